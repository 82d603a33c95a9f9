import { both, view, type BodyPartTemplate, type SpeciesTemplate, type ViewTemplate } from './types.js';

const v = view;

type Tech = ViewTemplate['technique'];

/** The small-animal body parts, parameterised by the species' techniques (caliper method). */
function smallAnimal(
  t: { thorax: Tech; abdomen: Tech; pelvis: Tech; spine: Tech; skull: Tech; limb: Tech },
  big: boolean,
  /** The hip lateral's single-view procedure id: added after the first library, so numbered after its last id. */
  hipLateralProcedure: string,
): BodyPartTemplate[] {
  const trunk = big ? '14x17' : '10x12';
  return [
    {
      id: 'THORAX',
      zh: '胸部',
      en: 'Thorax',
      region: 'THORAX',
      views: [
        v('TH_RL', '胸部右侧位', 'Thorax right lateral', 'RL', t.thorax, trunk),
        v('TH_LL', '胸部左侧位', 'Thorax left lateral', 'LL', t.thorax, trunk),
        v('TH_VD', '胸部腹背位', 'Thorax VD', 'VD', t.thorax, trunk),
        v('TH_DV', '胸部背腹位', 'Thorax DV', 'DV', t.thorax, trunk),
      ],
      procedures: [
        { code: 'TH_3VIEW', zh: '胸部三位片（转移筛查）', en: 'Thorax three views (metastasis check)', views: ['TH_RL', 'TH_LL', 'TH_VD'] },
        { code: 'TH_2VIEW', zh: '胸部侧位 + 腹背位', en: 'Thorax RL + VD', views: ['TH_RL', 'TH_VD'] },
        { code: 'TH_EMERG', zh: '急诊胸部（背腹位）', en: 'Emergency thorax DV + RL', views: ['TH_DV', 'TH_RL'], emergency: true },
      ],
    },
    {
      id: 'ABDOMEN',
      zh: '腹部',
      en: 'Abdomen',
      region: 'ABDOMEN',
      views: [
        v('AB_RL', '腹部右侧位', 'Abdomen right lateral', 'RL', t.abdomen, trunk),
        v('AB_LL', '腹部左侧位', 'Abdomen left lateral', 'LL', t.abdomen, trunk),
        v('AB_VD', '腹部腹背位', 'Abdomen VD', 'VD', t.abdomen, trunk),
      ],
      procedures: [
        { code: 'AB_2VIEW', zh: '腹部侧位 + 腹背位', en: 'Abdomen RL + VD', views: ['AB_RL', 'AB_VD'] },
        {
          code: 'AB_EMERG',
          zh: '急诊腹部（异物/胃扭转）',
          en: 'Emergency abdomen (foreign body/GDV)',
          views: ['AB_RL', 'AB_VD'],
          emergency: true,
        },
      ],
    },
    {
      // The specification's Dog_Hip: View_<species>_PV_LAT_01 pelvis lateral, PV_LAT_02 hip lateral,
      // PV_VD_01 pelvis VD with the legs extended.
      id: 'Hip',
      zh: '骨盆/髋',
      en: 'Pelvis/hips',
      region: 'PELVIS',
      views: [
        v('PV_VD', '骨盆伸腿腹背位', 'Pelvis VD, legs extended', 'VD', t.pelvis, trunk, { region: 'Pelvis' }),
        v('PV_FROG', '骨盆蛙式位', 'Pelvis VD frog-leg', 'VD', t.pelvis, trunk, { region: 'Pelvis' }),
        v('PV_LAT', '骨盆侧位', 'Pelvis lateral', 'RL', t.pelvis, trunk, { region: 'Pelvis' }),
        v('HP_LAT', '髋关节侧位', 'Hip joint lateral', 'RL', t.pelvis, trunk, {
          id: 'PV_LAT_02',
          region: 'Hip joint',
          procedureId: hipLateralProcedure,
        }),
      ],
      procedures: [
        { code: 'PV_HIP', zh: '髋关节发育不良筛查', en: 'Hip dysplasia screening', views: ['PV_VD', 'PV_FROG'] },
        { code: 'PV_TRAUMA', zh: '急诊骨盆外伤', en: 'Emergency pelvis trauma', views: ['PV_VD', 'PV_LAT'], emergency: true },
      ],
    },
    {
      id: 'SPINE',
      zh: '脊柱',
      en: 'Spine',
      region: 'SPINE',
      views: [
        v('CS_LAT', '颈椎侧位', 'Cervical spine lateral', 'RL', t.spine, '10x12'),
        v('CS_VD', '颈椎腹背位', 'Cervical spine VD', 'VD', t.spine, '10x12'),
        v('TS_LAT', '胸椎侧位', 'Thoracic spine lateral', 'RL', t.spine, trunk),
        v('TS_VD', '胸椎腹背位', 'Thoracic spine VD', 'VD', t.spine, trunk),
        v('LS_LAT', '腰椎侧位', 'Lumbar spine lateral', 'RL', t.spine, '10x12'),
        v('LS_VD', '腰椎腹背位', 'Lumbar spine VD', 'VD', t.spine, '10x12'),
      ],
      procedures: [
        { code: 'CS_2VIEW', zh: '颈椎侧位 + 腹背位', en: 'Cervical spine LAT + VD', views: ['CS_LAT', 'CS_VD'] },
        { code: 'TL_2VIEW', zh: '胸腰椎侧位 + 腹背位', en: 'Thoracolumbar LAT + VD', views: ['TS_LAT', 'TS_VD', 'LS_LAT', 'LS_VD'] },
      ],
    },
    {
      id: 'SKULL',
      zh: '头部',
      en: 'Skull',
      region: 'SKULL',
      views: [
        v('SK_LAT', '头部侧位', 'Skull lateral', 'RL', t.skull, '8x10'),
        v('SK_DV', '头部背腹位', 'Skull DV', 'DV', t.skull, '8x10'),
        v('SK_OPEN', '张口位（鼻腔）', 'Open-mouth VD (nasal cavity)', 'VD', t.skull, '8x10'),
        v('SK_BULLA', '鼓泡斜位', 'Tympanic bullae oblique', 'OBL', t.skull, '8x10', { ...both, circular: true }),
        v('SK_DENTAL', '颌骨斜位（牙齿）', 'Jaw oblique (dental)', 'OBL', t.skull, '8x10', both),
      ],
      procedures: [{ code: 'SK_2VIEW', zh: '头部侧位 + 背腹位', en: 'Skull LAT + DV', views: ['SK_LAT', 'SK_DV'] }],
    },
    {
      id: 'FORELIMB',
      zh: '前肢',
      en: 'Forelimb',
      region: 'UPPER LIMB',
      views: [
        v('SH_LAT', '肩关节侧位', 'Shoulder mediolateral', 'LAT', t.limb, '8x10', both),
        v('SH_CC', '肩关节后前位', 'Shoulder caudocranial', 'CC', t.limb, '8x10', both),
        v('HU_LAT', '肱骨侧位', 'Humerus mediolateral', 'LAT', t.limb, '10x12', both),
        v('EL_LAT', '肘关节侧位', 'Elbow mediolateral', 'LAT', t.limb, '8x10', both),
        v('EL_FLEX', '肘关节屈曲侧位', 'Elbow flexed lateral', 'LAT', t.limb, '8x10', both),
        v('EL_CRCD', '肘关节前后位', 'Elbow craniocaudal', 'CRCD', t.limb, '8x10', both),
        v('RU_LAT', '桡尺骨侧位', 'Radius/ulna mediolateral', 'LAT', t.limb, '10x12', both),
        v('CP_DP', '腕/掌骨背掌位', 'Carpus/manus dorsopalmar', 'DP', t.limb, '8x10', both),
      ],
      procedures: [
        { code: 'EL_SCREEN', zh: '肘关节发育不良筛查', en: 'Elbow dysplasia screening', views: ['EL_FLEX', 'EL_CRCD'] },
        { code: 'SH_2VIEW', zh: '肩关节两位', en: 'Shoulder two views', views: ['SH_LAT', 'SH_CC'] },
      ],
    },
    {
      id: 'HINDLIMB',
      zh: '后肢',
      en: 'Hindlimb',
      region: 'LOWER LIMB',
      views: [
        v('FE_LAT', '股骨侧位', 'Femur mediolateral', 'LAT', t.limb, '10x12', both),
        v('FE_CRCD', '股骨前后位', 'Femur craniocaudal', 'CRCD', t.limb, '10x12', both),
        v('ST_LAT', '膝关节侧位', 'Stifle mediolateral', 'LAT', t.limb, '8x10', both),
        v('ST_CDCR', '膝关节后前位', 'Stifle caudocranial', 'CC', t.limb, '8x10', both),
        v('TB_LAT', '胫骨侧位', 'Tibia mediolateral', 'LAT', t.limb, '10x12', both),
        v('TS_DPL', '跗关节背跖位', 'Tarsus dorsoplantar', 'DP', t.limb, '8x10', both),
      ],
      procedures: [
        { code: 'ST_2VIEW', zh: '膝关节两位（十字韧带）', en: 'Stifle two views (cruciate)', views: ['ST_LAT', 'ST_CDCR'] },
        { code: 'HL_TRAUMA', zh: '急诊后肢外伤', en: 'Emergency hindlimb trauma', views: ['FE_LAT', 'FE_CRCD'], emergency: true },
      ],
    },
  ];
}

export const DOG: SpeciesTemplate = {
  patientType: 'Dog',
  zh: '犬',
  en: 'Dog',
  viewPrefix: 'View_Dog_',
  unpairedNn: '01',
  category: 'Animal',
  parts: smallAnimal(
    { thorax: 'dogThorax', abdomen: 'dogAbdomen', pelvis: 'dogPelvis', spine: 'dogSpine', skull: 'dogSkull', limb: 'dogLimb' },
    true,
    'V0-0150',
  ),
};

export const CAT: SpeciesTemplate = {
  patientType: 'Cat',
  zh: '猫',
  en: 'Cat',
  viewPrefix: 'View_Cat_',
  unpairedNn: '01',
  category: 'Animal',
  parts: smallAnimal(
    { thorax: 'catThorax', abdomen: 'catAbdomen', pelvis: 'catSkeleton', spine: 'catSkeleton', skull: 'catSkeleton', limb: 'catSkeleton' },
    false,
    'V0-0151',
  ),
};

export const RABBIT: SpeciesTemplate = {
  patientType: 'Rabbit',
  zh: '兔',
  en: 'Rabbit',
  viewPrefix: 'View_Rabbit_',
  unpairedNn: '01',
  category: 'Animal',
  parts: [
    {
      id: 'WHOLEBODY',
      zh: '全身',
      en: 'Whole body',
      region: 'WHOLEBODY',
      views: [
        v('WB_LAT', '全身侧位', 'Whole body lateral', 'RL', 'rabbitBody', '10x12'),
        v('WB_VD', '全身腹背位', 'Whole body VD', 'VD', 'rabbitBody', '10x12'),
        v('WB_DV', '全身背腹位', 'Whole body DV', 'DV', 'rabbitBody', '10x12'),
      ],
      procedures: [
        { code: 'WB_2VIEW', zh: '全身侧位 + 腹背位', en: 'Whole body LAT + VD', views: ['WB_LAT', 'WB_VD'] },
        {
          code: 'WB_EMERG',
          zh: '急诊全身（胃肠淤滞）',
          en: 'Emergency whole body (GI stasis)',
          views: ['WB_LAT', 'WB_DV'],
          emergency: true,
        },
      ],
    },
    {
      id: 'SKULL',
      zh: '头部',
      en: 'Skull',
      region: 'SKULL',
      views: [
        v('SK_LAT', '头部侧位（牙齿）', 'Skull lateral (dental)', 'RL', 'rabbitSkull', '8x10'),
        v('SK_DV', '头部背腹位', 'Skull DV', 'DV', 'rabbitSkull', '8x10'),
        v('SK_RCD', '头部前后位', 'Skull rostrocaudal', 'RCD', 'rabbitSkull', '8x10'),
        v('SK_OBL', '头部斜位', 'Skull oblique', 'OBL', 'rabbitSkull', '8x10', both),
      ],
      procedures: [{ code: 'SK_DENTAL', zh: '牙科系列', en: 'Dental series', views: ['SK_LAT', 'SK_DV', 'SK_RCD'] }],
    },
  ],
};

export const VET_SPECIES = [DOG, CAT, RABBIT];
