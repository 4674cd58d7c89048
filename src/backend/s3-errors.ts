/**
 * Turning AWS SDK errors into backend error codes and hints. The SDK reports S3's XML error code in
 * `name` (`NoSuchKey`, `AccessDenied`…), the HTTP status in `$metadata.httpStatusCode`, and network
 * failures as Node errors with a `code` (`ECONNRESET`…).
 */
import type { BackendErrorCode } from './backend.js';

export interface S3ErrorClass {
  code: BackendErrorCode;
  status: number | undefined;
  /** `NoSuchBucket (404): The specified bucket does not exist`, without request details. */
  detail: string;
  /** May contain `{bucket}` and `{endpoint}` placeholders. */
  hint?: string;
}

const permanentHints: Record<string, string> = {
  NoSuchBucket: 'the bucket {bucket} does not exist: create the bucket first (or run init, which creates it)',
  InvalidAccessKeyId: 'the server does not know this access key: check the access key (AWS_ACCESS_KEY_ID)',
  SignatureDoesNotMatch: 'the secret key does not match the access key: check the access key and secret (AWS_SECRET_ACCESS_KEY)',
  AccessDenied: 'the key may not use bucket {bucket}: check the access key and its permissions',
  Forbidden: 'the key may not use bucket {bucket}: check the access key, the secret and their permissions',
  InvalidBucketName: 'check the bucket name in the repository string',
  RequestTimeTooSkewed: "this computer's clock is wrong: set the date and time",
  CredentialsProviderError: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or write ~/.aws/credentials',
};

const transientNames = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeoutException',
  'InternalError', 'ServiceUnavailable', 'TimeoutError', 'OperationAborted']);
const transientNetCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

export function classifyS3Error(err: unknown): S3ErrorClass {
  const e = (err ?? {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name && e.name !== 'Error' ? e.name : e.code ?? 'Error';
  // Ceph and HEAD responses often carry no message; "UnknownError" says nothing, the status does.
  const msg = e.message && e.message !== 'UnknownError' && e.message !== name ? `: ${e.message}` : '';
  const detail = `${name}${status ? ` (HTTP ${status})` : ''}${msg}`;
  if (name === 'NotFound' || name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchBucket')) {
    return { code: 'not-found', status: 404, detail };
  }
  if (permanentHints[name]) return { code: 'permanent', status, detail, hint: permanentHints[name] };
  if (status === 403) return { code: 'permanent', status, detail, hint: permanentHints.Forbidden };
  if (status === 400 && name === 'Error') return { code: 'permanent', status, detail };
  if (transientNames.has(name) || (e.code && transientNetCodes.has(e.code)) || (status !== undefined && (status >= 500 || status === 429))) {
    const hint = e.code === 'ECONNREFUSED' ? 'nothing answers at {endpoint}: is the server running?' : undefined;
    return { code: 'transient', status, detail, ...(hint ? { hint } : {}) };
  }
  if (e.code === 'ENOTFOUND') return { code: 'permanent', status, detail, hint: 'check the host name in the repository string' };
  if (status === undefined && !e.name?.startsWith('Invalid')) {
    // No HTTP answer at all (socket closed mid-body, TLS hiccup): the network, not the request.
    return { code: 'transient', status, detail };
  }
  return { code: 'permanent', status, detail };
}
