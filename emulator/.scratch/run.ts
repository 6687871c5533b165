import { startEmulator } from '../src/index';
(async () => {
  const emu = await startEmulator({ port: 12199, log: (m) => console.error(m) });
  console.log('up', emu.url);
})();
