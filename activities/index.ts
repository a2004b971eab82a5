/** Every activity the worker registers, by its exported name. */
export * from './ping';
export * from './catalog';
export * from './postgres';
export * from './files';
export * from './restore';
export * from './merge';
