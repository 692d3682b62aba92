/** What a backup wrote, counted by the main thread's writer and by each worker job alike. */
export interface EntryStats {
  newFiles: number;
  changedFiles: number;
  deletedFiles: number;
  /** Objects of other types new or changed. */
  otherEntries: number;
  deletedEntries: number;
  /** Bytes of file content read. */
  bytesRead: number;
  /** Bytes of snapshot content and delta data put into volumes. */
  payloadBytes: number;
}

export function emptyStats(): EntryStats {
  return {
    newFiles: 0,
    changedFiles: 0,
    deletedFiles: 0,
    otherEntries: 0,
    deletedEntries: 0,
    bytesRead: 0,
    payloadBytes: 0,
  };
}
