import type { PictureLimits } from '../../imaging/picture-limits.js';
import { AppError } from '../../util/errors.js';
import type { AuthUser } from '../auth/auth-user.js';
import type { ConfigService } from '../system/config-service.js';

const HOUR_MS = 3_600_000;

/** Who sends a picture: the user (or guest session) and the client address the request came from. */
export interface Uploader {
  user: AuthUser;
  address: string;
}

interface Window {
  windowStart: number;
  bytes: number;
}

/** One hourly budget to check: its counter key, its limit and how a refusal names it. */
interface Budget {
  key: string;
  limit: number;
  error: 'UPLOAD_QUOTA_EXCEEDED' | 'UPLOAD_SHARED_QUOTA_EXCEEDED';
  what: string;
}

/** One concurrency bound to check: its counter key, its limit and how a refusal names it. */
interface Slot {
  key: string;
  limit: number;
  error: 'UPLOAD_BUSY' | 'UPLOAD_CAPACITY_BUSY';
  what: string;
}

/**
 * What clients may make this process hold and store from the pictures they send (portraits,
 * post-processed pictures; DICOM upload and STOW-RS take the same guard): uploads in progress at
 * once per user (429 UPLOAD_BUSY), bytes stored per user per hour (429 UPLOAD_QUOTA_EXCEEDED), the
 * largest object (413 OBJECT_TOO_LARGE) and the decoded size of a picture (imaging/picture-limits).
 *
 * Counted per user; guests per token, since every guest shares one account and one console must
 * not use up another's share. Guest tokens cost nothing to mint, so guests are also bounded all
 * together and per client address: uploads in progress (429 UPLOAD_CAPACITY_BUSY, as is the bound
 * on the whole process) and bytes stored per hour (429 UPLOAD_SHARED_QUOTA_EXCEEDED). Kept in
 * memory: one process per data directory, and a restart forgetting an hour's count is harmless.
 */
export class UploadLimiter {
  private readonly inFlight = new Map<string, number>();
  private readonly stored = new Map<string, Window>();

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

  /** The concurrency bounds an upload of `uploader` counts against, the per-user one first. */
  private async slotsOf({ user, address }: Uploader): Promise<Slot[]> {
    const slots: Slot[] = [
      {
        key: UploadLimiter.holderOf(user),
        limit: await this.configs.getNumber('upload.max_concurrent_per_user'),
        error: 'UPLOAD_BUSY',
        what: 'of this user',
      },
      {
        key: 'all',
        limit: await this.configs.getNumber('upload.max_concurrent_total'),
        error: 'UPLOAD_CAPACITY_BUSY',
        what: 'on this server (upload.max_concurrent_total)',
      },
    ];
    if (user.isGuest) {
      slots.push(
        {
          key: 'guests',
          limit: await this.configs.getNumber('upload.guest_max_concurrent'),
          error: 'UPLOAD_CAPACITY_BUSY',
          what: 'of all guest consoles (upload.guest_max_concurrent)',
        },
        {
          key: `guest-address:${address}`,
          limit: await this.configs.getNumber('upload.guest_max_concurrent_per_address'),
          error: 'UPLOAD_CAPACITY_BUSY',
          what: 'of guests from this address (upload.guest_max_concurrent_per_address)',
        },
      );
    }
    return slots;
  }

  /** Runs `work` in an upload slot of the uploader (and, for a guest, of all guests and of its address); none free is 429. */
  async withSlot<T>(uploader: Uploader, work: () => Promise<T>): Promise<T> {
    const slots = await this.slotsOf(uploader);
    // Checked and taken with no await in between, so concurrent requests cannot both take the last slot.
    for (const slot of slots) {
      const running = this.inFlight.get(slot.key) ?? 0;
      if (running >= slot.limit) {
        throw new AppError(slot.error, [
          { field: 'data', message: `${running} uploads ${slot.what} in progress; at most ${slot.limit} at once` },
        ]);
      }
    }
    for (const slot of slots) this.inFlight.set(slot.key, (this.inFlight.get(slot.key) ?? 0) + 1);
    try {
      return await work();
    } finally {
      for (const slot of slots) {
        const left = (this.inFlight.get(slot.key) ?? 1) - 1;
        if (left > 0) this.inFlight.set(slot.key, left);
        else this.inFlight.delete(slot.key);
      }
    }
  }

  /** The hourly budgets a stored object of `uploader` counts against, the per-user one first. */
  private async budgetsOf({ user, address }: Uploader): Promise<Budget[]> {
    const budgets: Budget[] = [
      {
        key: UploadLimiter.holderOf(user),
        limit: await this.configs.getNumber(user.isGuest ? 'upload.guest_bytes_per_hour' : 'upload.user_bytes_per_hour'),
        error: 'UPLOAD_QUOTA_EXCEEDED',
        what: 'this user',
      },
    ];
    if (user.isGuest) {
      budgets.push(
        {
          key: 'guests',
          limit: await this.configs.getNumber('upload.guest_bytes_per_hour_total'),
          error: 'UPLOAD_SHARED_QUOTA_EXCEEDED',
          what: 'all guest consoles (upload.guest_bytes_per_hour_total)',
        },
        {
          key: `guest-address:${address}`,
          limit: await this.configs.getNumber('upload.guest_bytes_per_hour_per_address'),
          error: 'UPLOAD_SHARED_QUOTA_EXCEEDED',
          what: 'guests from this address (upload.guest_bytes_per_hour_per_address)',
        },
      );
    }
    return budgets;
  }

  private windowOf(key: string, now: number): Window {
    let window = this.stored.get(key);
    if (!window || now - window.windowStart >= HOUR_MS) {
      window = { windowStart: now, bytes: 0 };
      this.stored.set(key, window);
    }
    return window;
  }

  /**
   * Reserves `bytes` of the uploader's hourly budgets for an object about to be stored, after
   * checking the object's size; the returned function gives them back if storing fails.
   */
  async reserve(uploader: Uploader, bytes: number): Promise<() => void> {
    const maxObject = await this.configs.getNumber('upload.max_object_bytes');
    if (bytes > maxObject) {
      throw new AppError('OBJECT_TOO_LARGE', [{ field: 'data', message: `the object would be ${bytes} bytes; at most ${maxObject}` }]);
    }
    const budgets = await this.budgetsOf(uploader);
    const now = this.now();
    if (this.stored.size > 1000) {
      for (const [key, w] of this.stored) if (now - w.windowStart >= HOUR_MS) this.stored.delete(key);
    }
    const windows = budgets.map((budget) => ({ budget, window: this.windowOf(budget.key, now) }));
    for (const { budget, window } of windows) {
      if (window.bytes + bytes > budget.limit) {
        const retryIn = Math.max(1, Math.ceil((window.windowStart + HOUR_MS - now) / 1000));
        throw new AppError(
          budget.error,
          [
            {
              field: 'data',
              message: `${window.bytes} of ${budget.limit} bytes stored this hour by ${budget.what}; ${bytes} more would exceed it (retry in ${retryIn} s)`,
            },
          ],
          undefined,
          { 'Retry-After': String(retryIn) },
        );
      }
    }
    for (const { window } of windows) window.bytes += bytes;
    return () => {
      for (const { window } of windows) window.bytes = Math.max(0, window.bytes - bytes);
    };
  }
}
