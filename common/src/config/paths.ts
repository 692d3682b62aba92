/** Default file locations, apart from the schemas so a command can name them without loading zod. */
export const DEFAULT_CLIENT_CONFIG = '/etc/deaddrop/client.json';
