/**
 * A repository in an S3 bucket (AWS S3, Ceph RGW, MinIO, Backblaze B2, Wasabi…), with restic's
 * layout: `prefix/config`, `prefix/keys/<id>`, `prefix/data/ab/<id>`, …
 *
 * The AWS SDK is imported on first use, so users of other destinations never load it. S3 writes are
 * atomic by nature (an object appears whole or not at all), so no temp name is needed. The SDK's own
 * retries are off: the retry wrapper does them, once, for every driver alike.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { BackendError, dirOf, filePath, isValidName, type Backend, type FileInfo, type FileType, type Handle } from './backend.js';
import { scrub } from './redact.js';
import { findCredentials, parseS3Location, type S3Credentials, type S3Location } from './s3-config.js';
import { classifyS3Error } from './s3-errors.js';

type SDK = typeof import('@aws-sdk/client-s3');

export interface S3Options {
  env: NodeJS.ProcessEnv;
  /** Path-style URLs (`host/bucket/key`) rather than `bucket.host/key`. Default: path style except on amazonaws.com. */
  pathStyle?: boolean;
  /** Objects larger than this are sent in parts (default 64 MiB; S3 allows 5 GiB in one PUT). */
  multipartThreshold?: number;
  connections?: number;
}

const MiB = 1024 * 1024;

export class S3Backend implements Backend {
  readonly location: string;
  readonly connections: number;
  private readonly where: S3Location;
  private readonly creds: S3Credentials | undefined;
  private client: Promise<{ sdk: SDK; s3: S3Client }> | undefined;
  /** Set once HeadBucket confirmed the bucket, so a 404 from HeadObject can be read as "no such file". */
  private bucketSeen = false;

  constructor(location: string, private readonly opts: S3Options) {
    this.where = parseS3Location(location);
    const { endpoint, bucket, prefix } = this.where;
    const host = endpoint.replace(/^https:\/\//, '');
    this.location = `s3:${host}/${bucket}${prefix ? `/${prefix}` : ''}`;
    this.connections = opts.connections ?? 5;
    this.creds = findCredentials(opts.env);
  }

  async create(): Promise<void> {
    const { sdk, s3 } = await this.sdk();
    if (await this.exists('config')) {
      throw new BackendError('exists', `${this.location}: a repository already exists here`, {
        hint: 'choose another bucket or folder, or use the existing repository',
      });
    }
    try {
      await s3.send(new sdk.HeadBucketCommand({ Bucket: this.where.bucket }));
    } catch (err) {
      if (classifyS3Error(err).status !== 404) throw this.wrap(err, 'create');
      try {
        await s3.send(new sdk.CreateBucketCommand({ Bucket: this.where.bucket }));
      } catch (e) {
        // Another client may have created it meanwhile; that is what we wanted.
        const name = (e as { name?: string }).name;
        if (name !== 'BucketAlreadyOwnedByYou') throw this.wrap(e, `create bucket ${this.where.bucket}`);
      }
    }
    this.bucketSeen = true;
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    const { sdk, s3 } = await this.sdk();
    const Key = this.key(filePath(h));
    try {
      if (data.length <= (this.opts.multipartThreshold ?? 64 * MiB)) {
        await s3.send(new sdk.PutObjectCommand({ Bucket: this.where.bucket, Key, Body: data, ContentLength: data.length }));
      } else {
        await this.multipart(sdk, s3, Key, data);
      }
    } catch (err) {
      throw this.wrap(err, `save ${filePath(h)}`);
    }
  }

  async load(h: Handle, length: number, offset: number): Promise<Uint8Array> {
    const { sdk, s3 } = await this.sdk();
    const what = `load ${filePath(h)}`;
    const Range = offset === 0 && length === 0 ? undefined : `bytes=${offset}-${length === 0 ? '' : offset + length - 1}`;
    try {
      const r = await s3.send(new sdk.GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(filePath(h)), Range }));
      if (!r.Body) throw new BackendError('transient', `${this.location}: ${what}: the server sent no body`);
      const data = await r.Body.transformToByteArray();
      const total = Number(/\/(\d+)$/.exec(r.ContentRange ?? '')?.[1] ?? r.ContentLength ?? data.length);
      const want = length === 0 ? total - offset : length;
      if (offset + want > total) {
        throw new BackendError('permanent', `${this.location}: ${what}: range ${offset}+${length} is past the end of the file (${total} bytes)`);
      }
      if (data.length !== want) {
        throw new BackendError('transient', `${this.location}: ${what}: got ${data.length} of ${want} bytes`);
      }
      return data;
    } catch (err) {
      throw this.wrap(err, what);
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    const { sdk, s3 } = await this.sdk();
    try {
      const r = await s3.send(new sdk.HeadObjectCommand({ Bucket: this.where.bucket, Key: this.key(filePath(h)) }));
      return { name: h.name, size: r.ContentLength ?? 0 };
    } catch (err) {
      // HEAD responses have no body, so a missing bucket and a missing file both read "404 NotFound".
      if (classifyS3Error(err).status === 404) {
        try {
          await this.checkBucket();
        } catch (e) {
          // Without a bucket there is no config either: `init`, which asks for the config first,
          // must go on and create the bucket rather than fail on it.
          if (h.type === 'config' && e instanceof BackendError && (e.cause as { name?: string } | undefined)?.name === 'NoSuchBucket') {
            throw new BackendError('not-found', e.message, { cause: e, ...(e.hint ? { hint: e.hint } : {}) });
          }
          throw e;
        }
      }
      throw this.wrap(err, `stat ${filePath(h)}`);
    }
  }

  async remove(h: Handle): Promise<void> {
    const { sdk, s3 } = await this.sdk();
    try {
      await s3.send(new sdk.DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.key(filePath(h)) }));
    } catch (err) {
      throw this.wrap(err, `remove ${filePath(h)}`);
    }
  }

  async *list(type: Exclude<FileType, 'config'>): AsyncIterable<FileInfo> {
    const { sdk, s3 } = await this.sdk();
    // No delimiter: one listing walks every data/xx/ folder, 1000 names per page.
    const Prefix = this.key(`${dirOf(type)}/`);
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await s3.send(new sdk.ListObjectsV2Command({ Bucket: this.where.bucket, Prefix, ContinuationToken }));
      } catch (err) {
        throw this.wrap(err, `list ${dirOf(type)}`);
      }
      for (const o of page.Contents ?? []) {
        const name = o.Key?.slice(o.Key.lastIndexOf('/') + 1) ?? '';
        // Only exact restic paths: skips temp files of other tools and packs in the wrong data/xx/.
        if (isValidName(name) && o.Key === this.key(filePath({ type, name }))) yield { name, size: o.Size ?? 0 };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) (await c.catch(() => undefined))?.s3.destroy();
  }

  private key(p: string): string {
    return this.where.prefix ? `${this.where.prefix}/${p}` : p;
  }

  private async exists(p: string): Promise<boolean> {
    const { sdk, s3 } = await this.sdk();
    try {
      await s3.send(new sdk.HeadObjectCommand({ Bucket: this.where.bucket, Key: this.key(p) }));
      return true;
    } catch (err) {
      if (classifyS3Error(err).status === 404) return false;
      throw this.wrap(err, `stat ${p}`);
    }
  }

  private async checkBucket(): Promise<void> {
    if (this.bucketSeen) return;
    const { sdk, s3 } = await this.sdk();
    try {
      await s3.send(new sdk.HeadBucketCommand({ Bucket: this.where.bucket }));
      this.bucketSeen = true;
    } catch (err) {
      const e = classifyS3Error(err);
      throw this.wrap(e.status === 404 ? Object.assign(new Error('bucket not found'), { name: 'NoSuchBucket' }) : err, 'open bucket');
    }
  }

  /** Parts of 16 MiB, sent one after another: only objects above the threshold (~never packs) get here. */
  private async multipart(sdk: SDK, s3: S3Client, Key: string, data: Uint8Array): Promise<void> {
    const Bucket = this.where.bucket;
    const { UploadId } = await s3.send(new sdk.CreateMultipartUploadCommand({ Bucket, Key }));
    try {
      const Parts: { ETag: string | undefined; PartNumber: number }[] = [];
      for (let off = 0, n = 1; off < data.length; off += 16 * MiB, n++) {
        const Body = data.subarray(off, off + 16 * MiB);
        const r = await s3.send(new sdk.UploadPartCommand({ Bucket, Key, UploadId, PartNumber: n, Body, ContentLength: Body.length }));
        Parts.push({ ETag: r.ETag, PartNumber: n });
      }
      await s3.send(new sdk.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
    } catch (err) {
      await s3.send(new sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  private sdk(): Promise<{ sdk: SDK; s3: S3Client }> {
    this.client ??= import('@aws-sdk/client-s3').then((sdk) => {
      const env = this.opts.env;
      const host = new URL(this.where.endpoint).hostname;
      const s3 = new sdk.S3Client({
        endpoint: this.where.endpoint,
        region: env.AWS_DEFAULT_REGION ?? env.AWS_REGION ?? 'us-east-1',
        forcePathStyle: this.opts.pathStyle ?? !host.endsWith('amazonaws.com'),
        ...(this.creds ? { credentials: this.creds } : {}),
        // The SDK's default streaming checksums are refused by Ceph RGW (411 MissingContentLength) and
        // other S3-compatible servers; content integrity is checked by the repository's own hashes.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 1,
        requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
      });
      return { sdk, s3 };
    });
    return this.client;
  }

  private wrap(err: unknown, what: string): BackendError {
    if (err instanceof BackendError) return err;
    const c = classifyS3Error(err);
    const hint = c.hint?.replace('{bucket}', this.where.bucket).replace('{endpoint}', this.where.endpoint);
    const message = scrub(`${this.location}: ${what}: ${c.detail}`, [this.creds?.secretAccessKey, this.creds?.sessionToken]);
    return new BackendError(c.code, message, { cause: err, ...(hint ? { hint } : {}) });
  }
}
