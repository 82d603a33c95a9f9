import type { PictureLimits } from '../../imaging/picture-limits.js';
import { AppError } from '../../util/errors.js';
import type { AuthUser } from '../auth/auth-user.js';
import type { ConfigService } from '../system/config-service.js';

const HOUR_MS = 3_600_000;

/**
 * What one client may make this process hold and store from the pictures it sends (portraits,
 * post-processed pictures; DICOM upload and STOW-RS take the same guard): uploads in progress at
 * once per user (429 UPLOAD_BUSY), bytes stored per user per hour (429 UPLOAD_QUOTA_EXCEEDED), the
 * largest object (413 OBJECT_TOO_LARGE) and the decoded size of a picture (imaging/picture-limits).
 *
 * Counted per process and per user; guests per token, since every guest shares one account and
 * one console must not use up another's share. Kept in memory: one process per data directory,
 * and a restart forgetting an hour's count is harmless.
 */
export class UploadLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly stored = new Map<string, { windowStart: number; bytes: number }>();

  constructor(
    private readonly configs: ConfigService,
    private readonly now: () => number = Date.now,
  ) {}

  /** Who is counted: the user, or for a guest its session (each guest token is one). */
  static holderOf(user: AuthUser): string {
    return user.isGuest ? `guest:${user.sessionId}` : `user:${user.id}`;
  }

  async pictureLimits(): Promise<PictureLimits> {
    return {
      maxPixels: await this.configs.getNumber('upload.max_pixels'),
      maxDecodedBytes: await this.configs.getNumber('upload.max_decoded_bytes'),
    };
  }

  /** The picture as sent is at most `upload.max_file_size` (what it decodes to is pictureLimits' business). */
  async assertFileSize(bytes: number, field = 'data'): Promise<void> {
    const max = await this.configs.getNumber('upload.max_file_size');
    if (bytes > max) throw new AppError('PAYLOAD_TOO_LARGE', [{ field, message: `${bytes} bytes; at most ${max} (upload.max_file_size)` }]);
  }

  /** Runs `work` in one of the user's upload slots; none free is UPLOAD_BUSY. */
  async withSlot<T>(user: AuthUser, work: () => Promise<T>): Promise<T> {
    const holder = UploadLimiter.holderOf(user);
    const limit = await this.configs.getNumber('upload.max_concurrent_per_user');
    const running = this.inFlight.get(holder) ?? 0;
    if (running >= limit) {
      throw new AppError('UPLOAD_BUSY', [{ field: 'data', message: `${running} uploads in progress; at most ${limit} at once` }]);
    }
    this.inFlight.set(holder, running + 1);
    try {
      return await work();
    } finally {
      const left = (this.inFlight.get(holder) ?? 1) - 1;
      if (left > 0) this.inFlight.set(holder, left);
      else this.inFlight.delete(holder);
    }
  }

  /**
   * Reserves `bytes` of the user's hourly quota for an object about to be stored, after checking
   * the object's size; the returned function gives them back if storing fails.
   */
  async reserve(user: AuthUser, bytes: number): Promise<() => void> {
    const maxObject = await this.configs.getNumber('upload.max_object_bytes');
    if (bytes > maxObject) {
      throw new AppError('OBJECT_TOO_LARGE', [{ field: 'data', message: `the object would be ${bytes} bytes; at most ${maxObject}` }]);
    }
    const quota = await this.configs.getNumber(user.isGuest ? 'upload.guest_bytes_per_hour' : 'upload.user_bytes_per_hour');
    const holder = UploadLimiter.holderOf(user);
    const now = this.now();
    if (this.stored.size > 1000) {
      for (const [key, w] of this.stored) if (now - w.windowStart >= HOUR_MS) this.stored.delete(key);
    }
    let window = this.stored.get(holder);
    if (!window || now - window.windowStart >= HOUR_MS) {
      window = { windowStart: now, bytes: 0 };
      this.stored.set(holder, window);
    }
    if (window.bytes + bytes > quota) {
      const retryIn = Math.ceil((window.windowStart + HOUR_MS - now) / 1000);
      throw new AppError('UPLOAD_QUOTA_EXCEEDED', [
        {
          field: 'data',
          message: `${window.bytes} of ${quota} bytes stored this hour; ${bytes} more would exceed it (retry in ${retryIn} s)`,
        },
      ]);
    }
    window.bytes += bytes;
    const reserved = window;
    return () => {
      reserved.bytes = Math.max(0, reserved.bytes - bytes);
    };
  }
}
