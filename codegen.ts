/**
 * GraphQL Code Generator: the TypeScript types of every operation `src/client` and the billing page (`web/`)
 * send, generated from schema.graphql as typed documents, so neither re-declares the server's types by hand.
 * `npm run codegen` writes them; `npm run codegen:check` (in `npm run lint`) fails when they are stale. Offline:
 * it reads only schema.graphql and the `operations.graphql` files.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

/** Typed documents as plain strings: sent as they are, with no graphql-js at run time in a client or a page. */
const TYPED_STRINGS = {
  plugins: ['typescript-operations', 'typed-document-node'],
  config: {
    documentMode: 'string',
    useTypeImports: true,
    enumType: 'string-literal',
    strictScalars: true,
    scalars: {
      ID: { input: 'string', output: 'string' },
      DateTimeISO: { input: 'string', output: 'string' },
      SafeInt: { input: 'number', output: 'number' },
    },
  },
};

const config: CodegenConfig = {
  schema: 'schema.graphql',
  overwrite: true,
  silent: true,
  generates: {
    'src/client/generated-operations.ts': { documents: 'src/client/operations.graphql', ...TYPED_STRINGS },
    'web/src/generated-operations.ts': { documents: 'web/src/operations.graphql', ...TYPED_STRINGS },
  },
};

export default config;
