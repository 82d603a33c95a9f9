import type { Generated } from 'kysely';

/**
 * Column conventions, identical on SQLite and PostgreSQL so repositories need no dialect branches:
 * times are ISO-8601 UTC text (`…Z`, sorts and compares as text), booleans are 0/1 integers,
 * structured values are JSON text.
 */
export type Bool = 0 | 1;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string | null;
  password_hash: string;
  full_name: string;
  phone: string | null;
  department: string | null;
  job_title: string | null;
  avatar: string;
  is_active: Bool;
  is_builtin: Bool;
  failed_login_count: number;
  locked_until: string | null;
  last_login_at: string | null;
  /** Tokens carry this number; bumping it (password change, disable, delete) voids them all. */
  token_version: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface RolesTable {
  id: Generated<number>;
  name: string;
  display_name_en: string;
  display_name_zh: string;
  description: string;
  is_builtin: Bool;
  created_at: string;
}

export interface RolePermissionsTable {
  role_id: number;
  permission: string;
}

export interface UserRolesTable {
  user_id: number;
  role_id: number;
}

export interface RevokedTokensTable {
  jti: string;
  user_id: number;
  expires_at: string;
  revoked_at: string;
}

export interface AuditLogsTable {
  id: Generated<number>;
  created_at: string;
  user_id: number | null;
  username: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  method: string;
  path: string;
  status_code: number;
  outcome: 'success' | 'failure';
  source: string;
  ip: string;
  request_id: string;
  detail: string | null;
}

export interface SystemConfigsTable {
  config_key: string;
  config_value: string;
  config_type: 'string' | 'number' | 'boolean' | 'json';
  category: string;
  description: string;
  is_public: Bool;
  updated_at: string;
  updated_by: number | null;
}

export interface JobsTable {
  id: Generated<number>;
  queue: string;
  payload: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  attempts: number;
  run_at: string;
  locked_by: string | null;
  locked_until: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/** Generated secrets shared by every process on one database (JWT key, installation id). */
export interface ServerSecretsTable {
  name: string;
  value: string;
  created_at: string;
}

export interface Database {
  server_secrets: ServerSecretsTable;
  users: UsersTable;
  roles: RolesTable;
  role_permissions: RolePermissionsTable;
  user_roles: UserRolesTable;
  revoked_tokens: RevokedTokensTable;
  audit_logs: AuditLogsTable;
  system_configs: SystemConfigsTable;
  jobs: JobsTable;
}
