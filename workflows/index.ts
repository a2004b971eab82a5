/** Every workflow the worker runs; the bundle is built from this file. */
export * from './backup';
export * from './restore';
export * from './validate';
export * from './delete';
export * from './merge';
export * from './retention';
export * from './ping';
export * from './testSupport';
