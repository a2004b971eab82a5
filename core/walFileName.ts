/**
 * The names PostgreSQL gives the files it archives (spec §12.4, §13): WAL segments (24 hex digits:
 * timeline, log, segment), partial segments, timeline histories and backup history files.
 */

/** A regular WAL segment: the only files the archive compresses and archive-get prefetches. */
export function isSegmentName(name: string): boolean {
  return /^[0-9A-F]{24}$/.test(name);
}

/** A name archive-push takes: anything PostgreSQL archives, nothing that leaves the directory. */
export function isArchivableName(name: string): boolean {
  return /^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$/.test(name) || /^[0-9A-F]{8}\.history$/.test(name);
}

/** Why a --wal-file-name is not one, or null when it is. */
export function walFileNameProblem(name: string): string | null {
  if (name.includes('/') || name === '.' || name === '..') return 'must be a file name (%f), without a directory';
  if (!isArchivableName(name)) return 'is not the name of a WAL segment, partial segment, timeline history or backup history file';
  return null;
}
