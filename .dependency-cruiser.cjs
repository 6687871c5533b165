/**
 * The architecture's import rules (docs/architecture.md, issue 13), checked by `npm run lint`.
 * Data walks one way: resolvers → services → entities; webhooks → services; nothing points back up.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment: 'Two folders that import each other are one tangle: move what both need below both.',
      from: { path: '^src/' },
      to: { circular: true },
      scope: 'folder',
    },
    {
      name: 'no-file-cycles',
      severity: 'error',
      from: { path: '^(src|emulator)/' },
      to: { circular: true },
    },
    {
      name: 'service-and-emulator-apart',
      severity: 'error',
      comment:
        'The service reaches the emulator only over HTTP, as it reaches Stripe; the emulator knows nothing of the service.',
      from: { path: '^src/' },
      to: { path: '^emulator/' },
    },
    {
      name: 'emulator-knows-no-service',
      severity: 'error',
      from: { path: '^emulator/' },
      to: { path: '^src/' },
    },
    {
      name: 'services-do-not-reach-up',
      severity: 'error',
      comment: 'Services are called by resolvers and webhook handlers; they never call them.',
      from: { path: '^src/services/' },
      to: { path: '^src/(resolvers|webhooks|graphql|http|schema|app|main)' },
    },
    {
      name: 'resolvers-go-through-services',
      severity: 'error',
      comment: "Resolvers check the caller and map; reading or writing the database is a service's job.",
      from: { path: '^src/resolvers/' },
      to: {
        path: '^(src/(entities|database|webhooks|http)|node_modules/@mikro-orm)',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'handlers-translate-only',
      severity: 'error',
      comment: 'A webhook handler turns a Stripe event into a call on a service: no rules, no database.',
      from: { path: '^src/webhooks/handlers/' },
      to: { path: '^(src/(entities|database)|node_modules/@mikro-orm)' },
    },
    {
      name: 'schema-knows-no-entities',
      severity: 'error',
      comment: 'What clients see is not what the database holds: a mapper turns one into the other.',
      from: { path: '^src/schema/' },
      to: { path: '^src/(entities|services|resolvers|webhooks|database|graphql|http)' },
    },
    {
      name: 'entities-know-nothing-above',
      severity: 'error',
      from: { path: '^src/entities/' },
      to: { path: '^src/(?!entities/|money/)' },
    },
    {
      name: 'lower-layers-stay-low',
      severity: 'error',
      comment: 'Logging, metrics, pub/sub and the database wiring serve the services; they do not know them.',
      from: { path: '^src/(logging|observability|pubsub|database|money)/' },
      to: { path: '^src/(services|resolvers|webhooks|graphql|http|schema|app|main)' },
    },
    {
      name: 'client-stands-alone',
      severity: 'error',
      comment:
        'src/client ships to other services as coditect-billing/client: it may use only the money module.',
      from: { path: '^src/client/' },
      to: { path: '^src/(?!client/|money/)' },
    },
    {
      name: 'nothing-imports-the-composition-root',
      severity: 'error',
      comment:
        'src/app builds every part from config; only the entry point (and scripts, benches, tests) start it.',
      from: { path: '^src/', pathNot: '^src/(main\\.ts$|app/)' },
      to: { path: '^src/app/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    reporterOptions: {
      archi: { collapsePattern: '^src/[^/]+' },
    },
  },
};
