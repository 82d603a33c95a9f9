import type { Language } from '../../util/client.js';

type Option = { value: string; en: string; zh: string };

const o = (value: string, en: string, zh: string): Option => ({ value, en, zh });

const SEX = [o('M', 'Male', '男'), o('F', 'Female', '女'), o('O', 'Other', '其他')];

/**
 * Option lists the console's forms offer, by group (`resource/options?group=`). `basic` is the
 * sample's list (sexes including the veterinary CM/SF); `apr_cbo` and `flag` are named in the
 * spec without contents: read here as exposure technique modes and a yes/no flag.
 */
const GROUPS: Partial<Record<string, Option[]>> = {
  basic: [...SEX, o('CM', 'CM', 'CM'), o('SF', 'SF', 'SF')],
  sex: [...SEX, o('U', 'Unknown', '未知')],
  sex_full: [...SEX, o('U', 'Unknown', '未知'), o('CM', 'Castrated male', '已去势公'), o('SF', 'Spayed female', '已绝育母')],
  sex_neutered: [o('ALTERED', 'Altered (neutered)', '绝育'), o('UNALTERED', 'Unaltered', '未绝育')],
  patient_size: [o('Large', 'Large', '大'), o('Medium', 'Medium', '中'), o('Small', 'Small', '小'), o('Paediatric', 'Paediatric', '儿童')],
  pregnancy_status: [
    o('0001', 'Not pregnant', '未怀孕'),
    o('0002', 'Possibly pregnant', '可能怀孕'),
    o('0003', 'Definitely pregnant', '确定怀孕'),
    o('0004', 'Unknown', '未知'),
  ],
  study_type: [o('Normal', 'Normal', '普通'), o('Emergency', 'Emergency', '紧急')],
  study_status: [o('Arrived', 'Arrived', '已登记'), o('InProgress', 'In progress', '检查中'), o('Completed', 'Completed', '已完成')],
  work_station: [o('0', 'Table', '卧位'), o('1', 'Wall stand', '立位'), o('2', 'Free', '自由位'), o('3', 'Direct', '传统位')],
  apr_cbo: [
    o('mAs', 'mAs (two-point)', 'mAs（两点法）'),
    o('mA_ms', 'mA and ms (three-point)', 'mA 与 ms（三点法）'),
    o('AEC', 'AEC', '自动曝光控制'),
  ],
  flag: [o('true', 'Yes', '是'), o('false', 'No', '否')],
  language: [o('en_US', 'English', 'English'), o('zh_CN', '简体中文', '简体中文')],
};

export const OPTION_GROUPS = Object.keys(GROUPS);

export function optionsOf(group: string, language: Language): { text: string; value: string }[] | undefined {
  const list = GROUPS[group];
  return list?.map((item) => ({ text: language === 'zh_CN' ? item.zh : item.en, value: item.value }));
}
