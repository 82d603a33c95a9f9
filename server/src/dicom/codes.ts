/** SNOMED CT codes (PS3.16 CID 4031 anatomic regions, CID 4010 DX view) for the coded sequences. */
export interface Code {
  CodeValue: string;
  CodingSchemeDesignator: 'SCT';
  CodeMeaning: string;
}

const sct = (CodeValue: string, CodeMeaning: string): Code => ({ CodeValue, CodingSchemeDesignator: 'SCT', CodeMeaning });

/** Body Part Examined term → anatomic region code. */
export const REGION_CODES: Partial<Record<string, Code>> = {
  SKULL: sct('89546000', 'Skull'),
  NECK: sct('45048000', 'Neck'),
  SPINE: sct('421060004', 'Spine'),
  CSPINE: sct('122494005', 'Cervical spine'),
  TSPINE: sct('122495006', 'Thoracic spine'),
  LSPINE: sct('122496007', 'Lumbar spine'),
  CHEST: sct('43799004', 'Chest'),
  THORAX: sct('51185008', 'Thorax'),
  ABDOMEN: sct('818983003', 'Abdomen'),
  PELVIS: sct('12921003', 'Pelvis'),
  'UPPER LIMB': sct('53120007', 'Upper limb'),
  'LOWER LIMB': sct('61685007', 'Lower limb'),
  WHOLEBODY: sct('38266002', 'Entire body'),
  HAND: sct('85562004', 'Hand'),
  WRIST: sct('74670003', 'Wrist'),
  ELBOW: sct('16953009', 'Elbow'),
  SHOULDER: sct('16982005', 'Shoulder'),
  FOOT: sct('56459004', 'Foot'),
  ANKLE: sct('70258002', 'Ankle'),
  KNEE: sct('72696002', 'Knee'),
  HIP: sct('24136001', 'Hip'),
};

/** View Position term → view code. */
export const VIEW_CODES: Partial<Record<string, Code>> = {
  AP: sct('399348003', 'antero-posterior'),
  PA: sct('399300004', 'postero-anterior'),
  LL: sct('399173006', 'left lateral'),
  RL: sct('399198007', 'right lateral'),
  VD: sct('399356007', 'ventro-dorsal'),
  DV: sct('399191007', 'dorso-ventral'),
};
