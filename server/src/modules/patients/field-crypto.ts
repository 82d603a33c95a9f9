import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { randomHex, type SecretsRepository } from '../auth/secrets.js';

/** The fields stored sealed, and the two of them also found through a blind index. */
export type SealedField = 'phone' | 'id_card' | 'address' | 'emergency_phone';
export type IndexedField = 'phone' | 'id_card';

/** The root of the patient-data keys: a random value in `server_secrets`, sealed there under the secret key. */
export const PATIENT_DATA_SECRET = 'patient_data_key';
const SEALED = 'pii:v1:';
const IV_BYTES = 12;

function subkey(root: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `roentgen/patients/${purpose}/v1`, 32));
}

/**
 * Encryption at rest of patients' contact and identity numbers. One random root per database
 * lives in `server_secrets` (sealed there with the secret key, like the JWT secret, so the
 * database alone does not reveal it and a new secret key only re-seals that row); HKDF derives
 * one subkey for AES-256-GCM and another for the HMAC-SHA256 blind index, so neither use can
 * stand in for the other. The associated data names the field and the row: a sealed value
 * copied into another column or another patient's row does not open.
 */
export class PatientFieldCrypto {
  private readonly encryptionKey: Buffer;
  private readonly indexKey: Buffer;

  constructor(root: Buffer) {
    if (root.length < 32) throw new Error('the patient data key must hold at least 32 bytes');
    this.encryptionKey = subkey(root, 'field-encryption');
    this.indexKey = subkey(root, 'blind-index');
  }

  /** The key of this database (made by the first process that asks). */
  static async open(secrets: SecretsRepository): Promise<PatientFieldCrypto> {
    return new PatientFieldCrypto(Buffer.from(await secrets.getOrCreate(PATIENT_DATA_SECRET, () => randomHex(32)), 'hex'));
  }

  private aad(field: SealedField, rowId: number): Buffer {
    return Buffer.from(`patients.${field}#${rowId}`, 'utf8');
  }

  seal(field: SealedField, rowId: number, value: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.encryptionKey, iv).setAAD(this.aad(field, rowId));
    const sealed = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return `${SEALED}${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${sealed.toString('base64url')}`;
  }

  /** The clear value; throws when the value was not sealed for this field and row under this key. */
  open(field: SealedField, rowId: number, stored: string): string {
    if (!stored.startsWith(SEALED)) throw new Error(`patients.${field} of row ${rowId} is not sealed`);
    const [iv = '', tag = '', sealed = ''] = stored.slice(SEALED.length).split('.');
    const decipher = createDecipheriv('aes-256-gcm', this.encryptionKey, Buffer.from(iv, 'base64url'))
      .setAAD(this.aad(field, rowId))
      .setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** Keyed blind index of an already normalised value: equal inputs match, the index alone reveals nothing. */
  blindIndex(field: IndexedField, normalised: string): string {
    return createHmac('sha256', this.indexKey).update(`${field}:${normalised}`, 'utf8').digest('base64url');
  }
}
