import { dropTemplateDatabase, stopEmbeddedPostgresForTests } from './postgres-server';

export default async function globalTeardown(): Promise<void> {
  const serverUrl = process.env.TEST_POSTGRES_SERVER_URL;
  const template = process.env.TEST_TEMPLATE_DATABASE;
  if (serverUrl && template) await dropTemplateDatabase(serverUrl, template);
  await stopEmbeddedPostgresForTests();
}
