/**
 * A sink answered 401: it does not take the login and password the netrc file holds for it.
 * Not a network fault, so the message says so and names the sink and the file to look at.
 */
import { DeaddropError } from '@deaddrop/common/errors';

/** Where the credentials of a sink come from (the netrc file and the machine they are listed under). */
export interface CredentialsSource {
  file: string;
  machine: string;
}

export class CredentialsRefused extends DeaddropError {
  readonly status = 401;
  constructor(sink: string, request: string, source: CredentialsSource | undefined, options?: { cause?: unknown }) {
    const where = source ? `machine ${source.machine} in ${source.file}` : 'this sink in the netrc file';
    super(
      `${sink}: ${request}: credentials refused (HTTP 401): check the login and password for ${where} ` +
        `against the host's entry in the sink's htpasswd`,
      undefined,
      options,
    );
    this.name = 'CredentialsRefused';
  }
}
