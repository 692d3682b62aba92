export { commands } from './commands.js';
export { loadRecipients, recipientFromDer, EC_NOT_SUPPORTED, type Recipient } from './recipients.js';
export { loadPrivateKey, privateKeyFromBytes, isEncryptedKeyFile, type PrivateKey } from './private-key.js';
export { createEncryptStream, SEGMENT_SIZE } from './cms/encrypt.js';
export { createDecryptStream, CmsError } from './cms/decrypt.js';
export { decryptFile } from './decrypt-file.js';
export { writeThroughTemp } from '@deaddrop/common/output-file';
export { generateRecipient, privateKeyPem, fingerprintsOf, type GeneratedRecipient } from './generate.js';
