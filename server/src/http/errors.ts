import type { ErrorName } from '../util/errors.js';

/**
 * The one error catalogue: an entry for each name errors are raised with (`util/errors.ts`).
 * Each entry fixes the HTTP status, the stable DR hex code, the diagnosis-face error `type`,
 * and the localized message and solution hint.
 * Codes are never reused: add new entries, do not renumber.
 */
export interface CatalogueEntry {
  status: number;
  drCode: string;
  type: string;
  message: { en_US: string; zh_CN: string };
  solution: { en_US: string; zh_CN: string };
}

function entry(
  status: number,
  drCode: string,
  type: string,
  en: string,
  zh: string,
  solutionEn = '',
  solutionZh = '',
): CatalogueEntry {
  return { status, drCode, type, message: { en_US: en, zh_CN: zh }, solution: { en_US: solutionEn, zh_CN: solutionZh } };
}

export const ERRORS = {
  // 0x01xxxx: request shape
  VALIDATION: entry(400, '0x010001', 'ValidationError', 'Invalid request parameters', '请求参数错误',
    'Correct the listed fields and retry', '请修正所列字段后重试'),
  MALFORMED_BODY: entry(400, '0x010002', 'ValidationError', 'The request body is not valid JSON', '请求体不是有效的 JSON',
    'Send a well-formed JSON body', '请发送格式正确的 JSON 请求体'),
  PAYLOAD_TOO_LARGE: entry(413, '0x010003', 'PayloadTooLargeError', 'The request body is too large', '请求体过大',
    'Send a smaller request', '请减小请求体大小'),
  UNSUPPORTED_MEDIA_TYPE: entry(415, '0x010004', 'UnsupportedMediaTypeError', 'Unsupported content type', '不支持的内容类型',
    'Send Content-Type: application/json', '请使用 Content-Type: application/json'),
  ROUTE_NOT_FOUND: entry(404, '0x010005', 'NotFoundError', 'No such API endpoint', '接口不存在',
    'Check the method and path', '请检查请求方法和路径'),
  METHOD_NOT_ALLOWED: entry(405, '0x010006', 'MethodNotAllowedError', 'Method not allowed', '不允许的请求方法'),
  // 0x02xxxx: authentication and authorization
  UNAUTHENTICATED: entry(401, '0x020001', 'AuthenticationError', 'Authentication required', '未授权，需要登录',
    'Log in and send the token as "Authorization: Bearer <token>"', '请登录并在 Authorization 头中携带令牌'),
  TOKEN_INVALID: entry(401, '0x020002', 'AuthenticationError', 'The token is invalid', '令牌无效', 'Log in again', '请重新登录'),
  TOKEN_EXPIRED: entry(401, '0x020003', 'AuthenticationError', 'The token has expired', '令牌已过期',
    'Refresh the token or log in again', '请刷新令牌或重新登录'),
  TOKEN_REVOKED: entry(401, '0x020004', 'AuthenticationError', 'The token has been revoked', '令牌已被撤销', 'Log in again', '请重新登录'),
  INVALID_CREDENTIALS: entry(401, '0x020005', 'AuthenticationError', 'Wrong username or password', '用户名或密码错误',
    'Check the username and password', '请检查用户名和密码'),
  ACCOUNT_LOCKED: entry(429, '0x020006', 'AccountLockedError', 'Too many failed logins; the account is locked for a while',
    '登录失败次数过多，账户已被暂时锁定', 'Wait until the lock expires or ask an administrator', '请等待锁定结束或联系管理员'),
  ACCOUNT_DISABLED: entry(403, '0x020007', 'AccountDisabledError', 'The account is disabled', '账户已被停用',
    'Ask an administrator to enable the account', '请联系管理员启用账户'),
  FORBIDDEN: entry(403, '0x020008', 'PermissionError', 'Permission denied', '禁止访问，权限不足',
    'Ask an administrator for the required permission', '请联系管理员授予所需权限'),
  PASSWORD_CONFIRM_MISMATCH: entry(422, '0x020009', 'ValidationError', 'The new passwords do not match', '两次输入的新密码不一致'),
  OLD_PASSWORD_WRONG: entry(422, '0x02000A', 'ValidationError', 'The current password is wrong', '旧密码错误'),
  WEAK_PASSWORD: entry(422, '0x02000B', 'ValidationError',
    'The password must be 8–128 characters with letters and digits', '密码须为 8–128 位且同时包含字母和数字'),
  GUEST_SCOPE: entry(403, '0x02000D', 'PermissionError', 'The guest session may only run the emergency workflow',
    '访客只能进行急诊流程', 'Log in with a personal account', '请使用个人账户登录'),
  // 0x03xxxx: users and roles
  USER_NOT_FOUND: entry(404, '0x030001', 'NotFoundError', 'User not found', '用户不存在'),
  USERNAME_TAKEN: entry(409, '0x030002', 'ConflictError', 'The username is already taken', '用户名已存在'),
  EMAIL_TAKEN: entry(409, '0x030003', 'ConflictError', 'The e-mail address is already used', '邮箱已被使用'),
  ROLE_NOT_FOUND: entry(422, '0x030004', 'ValidationError', 'Unknown role', '角色不存在'),
  CANNOT_DELETE_SELF: entry(409, '0x030005', 'ConflictError', 'You cannot delete or disable your own account', '不能删除或停用自己的账户'),
  LAST_ADMIN: entry(409, '0x030006', 'ConflictError', 'The last active administrator cannot be removed', '不能移除最后一个有效的管理员'),
  BUILTIN_USER: entry(409, '0x030007', 'ConflictError', 'Built-in accounts cannot be deleted', '内置账户不能删除',
    'Disable the account instead', '可以改为停用该账户'),
  // 0x04xxxx: system configuration and resources
  CONFIG_NOT_FOUND: entry(404, '0x040001', 'NotFoundError', 'Configuration key not found', '配置项不存在'),
  CONFIG_TYPE_MISMATCH: entry(422, '0x040002', 'ValidationError', 'The value does not match the configuration type', '配置值与配置类型不符'),
  OPTION_GROUP_NOT_FOUND: entry(404, '0x040003', 'NotFoundError', 'Unknown option group', '选项组不存在'),
  TRANSLATION_NOT_FOUND: entry(404, '0x040004', 'NotFoundError', 'No translation module for that locale and file', '没有该语言的翻译文件'),
  UNSUPPORTED_LANGUAGE: entry(422, '0x040005', 'ValidationError', 'Unsupported language', '不支持的语言', 'Use en_US or zh_CN', '请使用 en_US 或 zh_CN'),
  // 0x05xxxx: protocol library
  VIEW_NOT_FOUND: entry(404, '0x050001', 'NotFoundError', 'View not found in this product', '体位不存在'),
  PROCEDURE_NOT_FOUND: entry(404, '0x050002', 'NotFoundError', 'Procedure not found in this product', '协议不存在'),
  APR_NOT_FOUND: entry(404, '0x050003', 'NotFoundError', 'Exposure programme not found', '曝光参数不存在'),
  EXPOSURE_INCONSISTENT: entry(422, '0x050004', 'ValidationError', 'mAs must equal mA × ms / 1000', 'mAs 必须等于 mA × ms / 1000',
    'Send consistent kV, mA, ms and mAs', '请提交一致的 kV、mA、ms 和 mAs'),
  PICTOGRAM_NOT_FOUND: entry(404, '0x050005', 'NotFoundError', 'Image not found', '图片不存在'),
  // 0x06xxxx: studies, images, recycle bin
  STUDY_NOT_FOUND: entry(404, '0x060001', 'NotFoundError', 'Study not found', '检查不存在'),
  STUDY_LOCKED: entry(409, '0x060002', 'ConflictError', 'The study is locked', '检查已锁定',
    'Unlock the study first', '请先解锁该检查'),
  IMAGE_NOT_FOUND: entry(404, '0x060003', 'NotFoundError', 'Image not found in the study', '图像不存在'),
  IMAGE_EXPOSED: entry(409, '0x060004', 'ConflictError', 'An exposed image can only be deleted after it is rejected',
    '已曝光的图像需先拒绝才能删除', 'Reject the image first', '请先将图像判定为拒绝'),
  VIEW_NOT_ALLOWED: entry(422, '0x060005', 'ValidationError', 'The view does not belong to the procedure or patient type',
    '体位与协议或患者类型不匹配'),
  SORT_MISMATCH: entry(422, '0x060006', 'ValidationError', 'The order must list every image of the study exactly once',
    '排序列表必须恰好包含该检查的全部图像'),
  STUDY_NOT_IN_BIN: entry(404, '0x060007', 'NotFoundError', 'Study not found in the recycle bin', '回收站中没有该检查'),
  PATIENT_CONFLICT: entry(409, '0x060008', 'ConflictError', 'The patient ID belongs to a patient of another type',
    '该患者编号已属于其他类型的患者'),
  // 0x07xxxx: files, DICOM objects and rendering
  FILE_NOT_FOUND: entry(404, '0x070001', 'NotFoundError', 'File not found', '文件不存在', 'Check the file name', '请检查文件名'),
  FILE_NOT_PUBLIC: entry(401, '0x070002', 'AuthenticationError', 'This file is not public; use the authenticated route',
    '该文件未公开，需要登录访问', 'Request it under /auth/f/ with a token', '请携带令牌通过 /auth/f/ 路径获取'),
  INVALID_DICOM: entry(422, '0x070003', 'ValidationError', 'The file is not a readable DICOM object', '文件不是可读取的 DICOM 对象',
    'Send a DICOM Part 10 file', '请发送 DICOM Part 10 文件'),
  UNSUPPORTED_IMAGE: entry(415, '0x070004', 'UnsupportedMediaTypeError', 'The image cannot be rendered', '无法渲染该图像',
    'Download the DICOM file and open it in a viewer that supports its encoding', '请下载 DICOM 文件并使用支持该编码的查看器打开'),
  IMAGE_NOT_STORED: entry(409, '0x070005', 'ConflictError', 'The image has no stored pixel data yet', '该图像尚未保存像素数据',
    'Expose and accept the image first', '请先完成曝光并接受图像'),
  INVALID_PNG: entry(422, '0x070006', 'ValidationError', 'The picture is not a readable PNG image', '图片不是有效的 PNG 图像',
    'Send a PNG (8 or 16 bits, grey or colour)', '请发送 8 位或 16 位的灰度或彩色 PNG 图像'),
  EXPORT_FAILED: entry(500, '0x070007', 'InternalError', 'The image could not be written to the export folder', '图像无法写入导出目录',
    'Check that the export folder exists and is writable (config export.directory)', '请检查导出目录是否存在且可写（配置项 export.directory）'),
  // 0x08xxxx: devices (generator, detector)
  DEVICE_NOT_FOUND: entry(404, '0x080001', 'NotFoundError', 'No such device', '设备不存在', 'Check deviceUri', '请检查 deviceUri'),
  DEVICE_ACTION_UNKNOWN: entry(422, '0x080002', 'ValidationError', 'The device has no such action', '设备不支持该操作',
    'Use one of the documented actions (IncParam_KV, SetParam_MAS, …)', '请使用文档中的操作（IncParam_KV、SetParam_MAS 等）'),
  DEVICE_PARAM_RANGE: entry(422, '0x080003', 'ValidationError', 'The value is outside the device\'s range', '参数超出设备允许范围',
    'Choose a value within the limits device/get reports', '请在 device/get 返回的范围内取值'),
  DEVICE_NOT_READY: entry(409, '0x080004', 'ConflictError', 'The device is not ready', '设备未就绪',
    'Wait until the device reports ready', '请等待设备就绪'),
  // 0x09xxxx: exposure workflow
  TASK_NOT_STARTED: entry(409, '0x090001', 'ConflictError', 'No inspection has been started', '尚未开始检查',
    'Call task/inspection/start with the image to expose first', '请先调用 task/inspection/start 选择要曝光的体位'),
  TASK_BUSY: entry(409, '0x090002', 'ConflictError', 'An exposure is already being taken or processed', '正在曝光或处理图像',
    'Wait for TASK_Success or TASK_Failure', '请等待 TASK_Success 或 TASK_Failure'),
  IMAGE_ALREADY_EXPOSED: entry(409, '0x090003', 'ConflictError', 'The image has already been exposed', '该体位已曝光',
    'Copy the view to expose it again', '请复制该体位后重新曝光'),
  IMAGE_NOT_EXPOSED: entry(409, '0x090004', 'ConflictError', 'The image has not been exposed yet', '该体位尚未曝光'),
  // 0x0Axxxx: DICOM networking
  PACS_NOT_FOUND: entry(404, '0x0A0001', 'NotFoundError', 'PACS node not found', 'PACS 节点不存在'),
  PACS_NAME_TAKEN: entry(409, '0x0A0002', 'ConflictError', 'A PACS node with this name exists', 'PACS 节点名称已存在',
    'Choose another name', '请使用其他名称'),
  DICOM_PEER_UNREACHABLE: entry(502, '0x0A0003', 'BadGatewayError', 'The DICOM node cannot be reached', '无法连接 DICOM 节点',
    'Check the address and port, and that the node is running', '请检查地址、端口以及节点是否运行'),
  DICOM_ASSOCIATION_REJECTED: entry(502, '0x0A0004', 'BadGatewayError', 'The DICOM node rejected the association', 'DICOM 节点拒绝了关联',
    'Check the called and calling AE titles configured on both sides', '请检查双方配置的被叫/主叫 AE 名称'),
  DICOM_TIMEOUT: entry(504, '0x0A0005', 'TimeoutError', 'The DICOM node did not answer in time', 'DICOM 节点响应超时',
    'Check the network and the node, then retry', '请检查网络和节点后重试'),
  DICOM_PROTOCOL: entry(502, '0x0A0006', 'BadGatewayError', 'The DICOM node broke off the exchange', 'DICOM 节点中断了通信'),
  STORE_TASK_NOT_FOUND: entry(404, '0x0A0007', 'NotFoundError', 'Send task not found', '发送任务不存在'),
  STORE_TASK_BUSY: entry(409, '0x0A0008', 'ConflictError', 'The send task is being sent now', '发送任务正在发送中',
    'Wait for it to finish', '请等待其完成'),
  RIS_NOT_CONFIGURED: entry(409, '0x0A0009', 'ConflictError', 'No RIS worklist node is configured', '未配置 RIS 工作列表节点',
    'Set ris.address, ris.port and ris.aet in the system settings', '请在系统设置中配置 ris.address、ris.port 和 ris.aet'),
  WORKLIST_ITEM_NOT_FOUND: entry(404, '0x0A000A', 'NotFoundError', 'The RIS has no such worklist item', 'RIS 中没有该工作列表项'),
  WORKLIST_ITEM_IMPORTED: entry(409, '0x0A000B', 'ConflictError', 'This worklist item is already registered', '该工作列表项已登记'),
  // 0x0Fxxxx: server side
  RATE_LIMITED: entry(429, '0x0F0001', 'RateLimitError', 'Too many requests', '请求过于频繁', 'Wait a moment and retry', '请稍后重试'),
  TIMEOUT: entry(504, '0x0F0002', 'TimeoutError', 'The request took too long', '请求超时', 'Retry later', '请稍后重试'),
  SERVICE_UNAVAILABLE: entry(503, '0x0F0003', 'ServiceUnavailableError', 'A required service is unavailable', '服务不可用'),
  NOT_IMPLEMENTED: entry(501, '0x0F0004', 'NotImplementedError', 'Not implemented yet', '功能尚未实现'),
  INTERNAL: entry(500, '0x0FFFFF', 'InternalError', 'Internal server error', '服务器内部错误',
    'Retry later; if it persists, report the request id', '请稍后重试；如持续出现请提供请求编号'),
} as const satisfies Record<ErrorName, CatalogueEntry>;
