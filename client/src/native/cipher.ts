/**
 * CMS content decryption into a few buffers reused in turn (client/native/cipher.c): the
 * restore's decrypted chunks, 256 KiB each, were new Buffers that lived across scavenges and
 * then waited for a full GC. Where the addon is not built, or DEADDROP_POOL=off, node:crypto
 * decrypts (keys/src/cms/content-cipher.ts).
 */
import { BufferRing } from '@deaddrop/common/buffer-ring';
import type { OutputDecipher } from '@deaddrop/keys/cms/decrypt';
import { loadAddon } from './load-addon.js';

type Handle = { readonly __cipher: unique symbol };

interface CipherAddon {
  decipher(name: string, key: Uint8Array, iv: Uint8Array): Handle;
  /** Bytes written to `output`, which must hold input's length plus a block. */
  update(handle: Handle, input: Uint8Array, output: Uint8Array): number;
  /** The last block, padding checked ("bad decrypt" thrown). */
  final(handle: Handle, output: Uint8Array): number;
}

/** Output buffers, reused in turn: a chunk stays valid until the reader asks for the third after it. */
const RING = 3;
/** A piece of up to this much (the restore's reads are 256 KiB) decrypts into the ring; a bigger one gets a Buffer of its own. */
const SLOT = 256 * 1024;
const BLOCK = 16; // AES's; 3DES's is 8

const addon = () => loadAddon<CipherAddon>('cipher', process.env.DEADDROP_POOL === 'off');

/** A decipher writing into its own ring of buffers, or null where the addon is not built. */
export function ringDecipher(): OutputDecipher | null {
  const native = addon();
  if (!native) return null;
  return (name, key, iv) => {
    const handle = native.decipher(name, key, iv);
    const ring = new BufferRing(RING, SLOT + BLOCK);
    return {
      update(piece) {
        const out = piece.length <= SLOT ? ring.current : Buffer.allocUnsafe(piece.length + BLOCK);
        const n = native.update(handle, piece, out);
        if (n > 0 && out === ring.current) ring.advance(); // a piece short of a block writes nothing: its slot stays free
        return out.subarray(0, n);
      },
      final() {
        const out = Buffer.allocUnsafe(BLOCK);
        return out.subarray(0, native.final(handle, out));
      },
    };
  };
}
