/**
 * Every permission the system knows, in the diagnosis document's `resource:action` form.
 * Later features use the ones already here; adding one means adding it to the roles below.
 */
export const PERMISSIONS = {
  'user:read': 'List and view user accounts',
  'user:write': 'Create, edit, disable and delete user accounts; reset passwords',
  'role:read': 'List roles and permissions',
  'patient:read': 'View patients (personal data masked)',
  'patient:write': 'Register and edit patients',
  'patient:delete': 'Delete patients',
  'patient:pii': 'See unmasked phone, ID card number and address',
  'study:read': 'View studies, series and images',
  'study:write': 'Register, edit, lock and delete studies',
  'study:emergency': 'Register emergency studies (guest workflow)',
  'image:write': 'Add, copy, sort, delete and post-process images',
  'protocol:read': 'View the protocol library',
  'protocol:write': 'Edit exposure programmes',
  'device:read': 'Read generator and detector state',
  'device:control': 'Change generator and detector parameters',
  'exposure:perform': 'Run the exposure workflow',
  'dicom:send': 'Send images to PACS nodes and manage the send queue',
  'pacs:read': 'View DICOM nodes',
  'pacs:write': 'Configure DICOM nodes',
  'recycle:read': 'View the recycle bin',
  'recycle:restore': 'Restore studies from the recycle bin',
  'recycle:purge': 'Permanently delete studies from the recycle bin',
  'report:read': 'View diagnosis reports',
  'report:write': 'Write diagnosis reports',
  'report:review': 'Review and approve diagnosis reports',
  'ai:read': 'View AI analysis tasks and models',
  'ai:write': 'Submit AI analysis tasks',
  'system:read': 'View system configuration, statistics and health',
  'system:write': 'Change system configuration and the console language',
  'audit:read': 'Read the audit log',
  'notification:read': 'Read own notifications',
  'notification:write': 'Send notifications',
  // Admin-only (ADMIN_ONLY_PERMISSIONS): only the built-in admin role is granted these.
  'user:admin': 'Manage users who hold privileged roles or permissions, and manage roles',
  'system:security':
    'Change security-sensitive configuration: public file kinds, export folder, DICOM AE allow-lists, security.*, auth.* and audit.*',
  'audit:export': 'Export the audit trail for a SIEM (IHE ATNA records)',
} as const;

export type Permission = keyof typeof PERMISSIONS;
export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

/**
 * Permissions that make their holder an administrator. Only the `admin` role carries them, and
 * since nobody may grant what they do not hold (users service), no other role can acquire them.
 */
export const ADMIN_ONLY_PERMISSIONS: readonly Permission[] = ['user:admin', 'system:security', 'audit:export'];

export interface RoleSeed {
  name: string;
  en: string;
  zh: string;
  description: string;
  permissions: readonly Permission[];
}

const CLINICAL_READ: Permission[] = ['patient:read', 'study:read', 'protocol:read', 'report:read', 'notification:read', 'pacs:read'];
const RADIOGRAPHY: Permission[] = [
  'patient:write',
  'study:write',
  'image:write',
  'device:read',
  'device:control',
  'exposure:perform',
  'dicom:send',
  'recycle:read',
  'recycle:restore',
  'study:emergency',
];

export const ROLE_SEEDS: readonly RoleSeed[] = [
  { name: 'admin', en: 'Administrator', zh: '管理员', description: 'Full access', permissions: ALL_PERMISSIONS },
  {
    name: 'mgr',
    en: 'Manager',
    zh: '科室主任',
    description: 'Department manager: users, studies, reports, recycle bin',
    permissions: [
      ...CLINICAL_READ,
      ...RADIOGRAPHY,
      'user:read',
      'user:write',
      'role:read',
      'patient:pii',
      'patient:delete',
      'report:write',
      'report:review',
      'recycle:purge',
      'ai:read',
      'ai:write',
      'system:read',
      'system:write',
      'audit:read',
      'notification:write',
      'pacs:write',
      'protocol:write',
    ],
  },
  {
    name: 'tech',
    en: 'Radiographer',
    zh: '技师',
    description: 'Registers patients, exposes, sends images',
    permissions: [...CLINICAL_READ, ...RADIOGRAPHY, 'patient:pii'],
  },
  {
    name: 'service',
    en: 'Service engineer',
    zh: '维修工程师',
    description: 'Devices, protocols, DICOM nodes, system settings',
    permissions: [
      'protocol:read',
      'protocol:write',
      'device:read',
      'device:control',
      'exposure:perform',
      'pacs:read',
      'pacs:write',
      'dicom:send',
      'system:read',
      'system:write',
      'audit:read',
      'notification:read',
      'study:read',
    ],
  },
  {
    name: 'doctor',
    en: 'Radiologist',
    zh: '诊断医生',
    description: 'Reads images and writes reports',
    permissions: [...CLINICAL_READ, 'patient:pii', 'report:write', 'report:review', 'ai:read', 'ai:write'],
  },
  {
    name: 'guest',
    en: 'Guest (emergency)',
    zh: '访客（急诊）',
    description: 'Emergency workflow only: register, expose, save',
    permissions: ['study:emergency', 'exposure:perform', 'device:read', 'device:control', 'protocol:read', 'image:write'],
  },
];

/** Users seeded on first start; `/pub/users` lists those who log in at the console. */
export const USER_SEEDS = [
  { username: 'admin', fullName: 'Administrator', role: 'admin' },
  { username: 'guest', fullName: 'Guest', role: 'guest' },
  { username: 'mgr', fullName: 'Manager', role: 'mgr' },
  { username: 'tech', fullName: 'Radiographer', role: 'tech' },
  { username: 'service', fullName: 'Service engineer', role: 'service' },
] as const;

export const CONSOLE_ROLES = ['admin', 'mgr', 'tech', 'service'];
