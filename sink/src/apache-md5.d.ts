declare module 'apache-md5' {
  /** Apache's apr1-MD5 crypt: md5(password, salt-or-full-hash) → "$apr1$salt$hash". */
  function md5(password: string, salt?: string): string;
  export default md5;
}
