/**
 * Command name → handler, loaded on demand: archive-push runs once per WAL segment and must not
 * pay for loading the Temporal client that backup needs. Replacing a stub means changing the
 * module a loader points to, nothing else.
 */
import type { CommandContext } from '../context';
import type { CommandName, OptionsFor } from '../options/commands';

export type Handler<N extends CommandName> = (opts: OptionsFor<N>, ctx: CommandContext) => Promise<number>;
type Runnable = Exclude<CommandName, 'help' | 'version'>;

export const HANDLERS: { [N in Runnable]: () => Promise<Handler<N>> } = {
  init: async () => (await import('./init')).initCommand,
  'add-instance': async () => (await import('./addInstance')).addInstanceCommand,
  'del-instance': async () => (await import('./delInstance')).delInstanceCommand,
  'set-config': async () => (await import('./setConfig')).setConfigCommand,
  'set-backup': async () => (await import('./setBackup')).setBackupCommand,
  'show-config': async () => (await import('./showConfig')).showConfigCommand,
  show: async () => (await import('./show')).showCommand,
  backup: async () => (await import('./backup')).backupCommand,
  restore: async () => (await import('./restore')).restoreCommand,
  merge: async () => (await import('./merge')).mergeCommand,
  delete: async () => (await import('./delete')).deleteCommand,
  validate: async () => (await import('./validate')).validateCommand,
  'archive-push': async () => (await import('./archivePush')).archivePushCommand,
  'archive-get': async () => (await import('./archiveGet')).archiveGetCommand,
  checkdb: async () => (await import('./checkdb')).checkdbCommand,
  catchup: async () => (await import('./catchup')).catchupCommand,
  worker: async () => (await import('./worker')).workerCommand,
};
