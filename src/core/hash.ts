import { createHash } from 'node:crypto';

export type ID = string; // 64 lowercase hex characters

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

export function hashID(data: Uint8Array): ID {
  return createHash('sha256').update(data).digest('hex');
}

export const idPattern = /^[0-9a-f]{64}$/;

export function isID(s: unknown): s is ID {
  return typeof s === 'string' && idPattern.test(s);
}
