import { backendContract } from './contract.js';
import { MemoryBackend } from './memory.js';

backendContract('memory', async () => ({ backend: new MemoryBackend(), cleanup: async () => {} }));
