import { forNodeCharset } from '../../dicom/charset-writer.js';
import { writePart10 } from '../../dicom/part10.js';
import { elementOf, readDataSet, text, type DataSet } from '../../dicom/reader.js';
import { TAGS } from '../../dicom/tags.js';
import { STATUS, statusText } from '../../dimse/command.js';
import { explicitToImplicit, splitPart10 } from '../../dimse/dataset.js';
import { Association, DimseError, EXPLICIT_LE, IMPLICIT_LE } from '../../dimse/scu.js';
import type { AuthUser } from '../auth/auth-user.js';
import type { Language } from '../../util/client.js';
import { AppError } from '../../util/errors.js';
import type { CreateStudy } from '../studies/schemas.js';
import type { StudiesService } from '../studies/service.js';
import type { ConfigService } from '../system/config-service.js';
import { DimseOutput } from '../../dimse/output.js';

/** Modality Worklist Information Model – FIND (PS3.4 K.6.1). */
export const MWL_FIND = '1.2.840.10008.5.1.4.31';

export interface WorklistQuery {
  patient_id?: string;
  patient_name?: string;
  accession_number?: string;
  study_instance_uid?: string;
  /** YYYY-MM-DD; the scheduled step's start date range. */
  date_from?: string;
  date_to?: string;
  modality?: string;
}

export interface WorklistItem {
  study_instance_uid: string;
  accession_number: string;
  patient_id: string;
  patient_name: string;
  patient_dob: string;
  patient_sex: string;
  ref_physician: string;
  requested_procedure_id: string;
  requested_procedure_description: string;
  modality: string;
  scheduled_station_aet: string;
  scheduled_datetime: string;
  scheduled_step_id: string;
  scheduled_step_description: string;
  /** Veterinary items (CP-643). */
  species: string;
  breed: string;
  responsible_person: string;
  sex_neutered: string;
}

const dicomDate = (iso: string | undefined) => (iso ? iso.replace(/-/g, '') : '');
// eslint-disable-next-line no-control-regex -- the ASCII range is the point
const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);

/**
 * A name with other than ASCII characters is matched here, on the decoded names: a RIS compares
 * bytes, and ours (UTF-8) are not the bytes of a RIS that keeps GB18030 or declares no set.
 */
function matchesName(item: WorklistItem, q: WorklistQuery): boolean {
  if (!q.patient_name || isAscii(q.patient_name)) return true;
  const wanted = q.patient_name.toLowerCase();
  return item.patient_name.toLowerCase().includes(wanted) || item.patient_name.replace(/\^/g, '').toLowerCase().includes(wanted);
}

/**
 * The C-FIND identifier: matching keys filled, every key we read back present (empty = return it),
 * (0008,0005) declaring our set and asking for the RIS's: UTF-8, or GB18030 for a RIS whose node
 * is configured for it.
 */
export function identifierFor(q: WorklistQuery, charset = ''): Buffer {
  const range = q.date_from || q.date_to ? `${dicomDate(q.date_from)}-${dicomDate(q.date_to)}` : '';
  const identifier = {
    SpecificCharacterSet: 'ISO_IR 192',
    AccessionNumber: q.accession_number ?? '',
    ReferringPhysicianName: '',
    PatientName: q.patient_name && isAscii(q.patient_name) ? `*${q.patient_name}*` : '',
    PatientID: q.patient_id ?? '',
    PatientBirthDate: '',
    PatientSex: '',
    PatientSpeciesDescription: '',
    PatientBreedDescription: '',
    ResponsiblePerson: '',
    PatientSexNeutered: '',
    StudyInstanceUID: q.study_instance_uid ?? '',
    RequestedProcedureID: '',
    RequestedProcedureDescription: '',
    ScheduledProcedureStepSequence: [
      {
        Modality: q.modality ?? '',
        ScheduledStationAETitle: '',
        ScheduledProcedureStepStartDate: range,
        ScheduledProcedureStepStartTime: '',
        ScheduledProcedureStepID: '',
        ScheduledProcedureStepDescription: '',
      },
    ],
  };
  const file = writePart10(identifier, { sopClassUid: MWL_FIND, sopInstanceUid: '2.25.1' });
  return splitPart10(forNodeCharset(file, charset)).dataset;
}

/** One match as the console shows it; a match we cannot read is the RIS breaking the protocol. */
export function itemOf(bytes: Buffer, transferSyntax: string, defaultCharset?: string): WorklistItem {
  let ds: DataSet;
  try {
    ds = readDataSet(bytes, { transferSyntax, ...(defaultCharset ? { defaultCharset } : {}) });
  } catch (error) {
    throw new DimseError('protocol', `the RIS sent a match that cannot be read: ${(error as Error).message}`);
  }
  const step = elementOf(ds, TAGS.scheduledStepSequence)?.items?.[0]?.dataSet;
  const date = text(step, TAGS.scheduledStepStartDate);
  const time = text(step, TAGS.scheduledStepStartTime);
  const dob = text(ds, TAGS.patientBirthDate);
  const when = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
  const clock = /^(\d{2})(\d{2})?(\d{2})?/.exec(time);
  return {
    study_instance_uid: text(ds, TAGS.studyUid),
    accession_number: text(ds, TAGS.accessionNumber),
    patient_id: text(ds, TAGS.patientId),
    patient_name: text(ds, TAGS.patientName),
    patient_dob: /^\d{8}$/.test(dob) ? `${dob.slice(0, 4)}-${dob.slice(4, 6)}-${dob.slice(6)}` : '',
    patient_sex: text(ds, TAGS.patientSex),
    ref_physician: text(ds, TAGS.referringPhysician),
    requested_procedure_id: text(ds, TAGS.requestedProcedureId),
    requested_procedure_description: text(ds, TAGS.requestedProcedureDescription),
    modality: text(step, TAGS.modality),
    scheduled_station_aet: text(step, TAGS.scheduledStationAet),
    scheduled_datetime: when ? `${when[1]}-${when[2]}-${when[3]}T${clock?.[1] ?? '00'}:${clock?.[2] ?? '00'}:${clock?.[3] ?? '00'}` : '',
    scheduled_step_id: text(step, TAGS.scheduledStepId),
    scheduled_step_description: text(step, TAGS.scheduledStepDescription),
    species: text(ds, TAGS.patientSpecies),
    breed: text(ds, TAGS.patientBreed),
    responsible_person: text(ds, TAGS.responsiblePerson),
    sex_neutered: text(ds, TAGS.patientSexNeutered),
  };
}

export interface WorklistImport {
  study_instance_uid: string;
  views: { view_id: string; procedure_id?: string }[];
  patient_type: string;
  patient_size: CreateStudy['patient_size'];
}

/** RIS sync: MWL C-FIND against the configured RIS, and registering an item as a study. */
export class WorklistService {
  constructor(
    private readonly configs: ConfigService,
    private readonly studies: StudiesService,
    private readonly ourAet: string,
    private readonly timeoutMs: number,
    /** The character set configured for the PACS node that is this RIS ('' when none is). */
    private readonly nodeCharset: (address: string, port: number, aet: string) => Promise<string> = () => Promise.resolve(''),
  ) {}

  async query(q: WorklistQuery): Promise<{ items: WorklistItem[]; output: string }> {
    const address = (await this.configs.getString('ris.address')).trim();
    const aet = (await this.configs.getString('ris.aet')).trim();
    if (!address || !aet) throw new AppError('RIS_NOT_CONFIGURED');
    const output = new DimseOutput(true, false);
    const port = await this.configs.getNumber('ris.port');
    const charset = await this.nodeCharset(address, port, aet);
    return await Association.run(
      {
        host: address,
        port,
        calledAet: aet,
        callingAet: (await this.configs.getString('ris.aec')).trim() || this.ourAet,
        contexts: [{ abstractSyntax: MWL_FIND, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE] }],
        connectTimeoutMs: this.timeoutMs,
        dimseTimeoutMs: this.timeoutMs,
        log: output.log,
      },
      async (association) => {
        const context = association.contextFor(MWL_FIND);
        if (!context) throw new AppError('DICOM_ASSOCIATION_REJECTED', [], 'the RIS does not offer the Modality Worklist');
        const identifier = identifierFor(q, charset);
        const sent = context.transferSyntax === IMPLICIT_LE ? explicitToImplicit(identifier) : [identifier];
        const { status, matches } = await association.find(MWL_FIND, sent, context.id);
        if (status !== STATUS.SUCCESS) throw new AppError('DICOM_PROTOCOL', [], `the RIS ended the query with ${statusText(status)}`);
        return matches.map((m) => itemOf(m, context.transferSyntax, charset)).filter((item) => matchesName(item, q));
      },
    ).then((items) => ({ items, output: output.text() }));
  }

  /**
   * Registers the RIS's item (looked up again by its Study Instance UID: the RIS is the source of
   * the patient data, not the client) with the views the radiographer chose.
   */
  async import(input: WorklistImport, user: AuthUser, product: string, language: Language) {
    const { items } = await this.query({ study_instance_uid: input.study_instance_uid });
    const item = items.find((i) => i.study_instance_uid === input.study_instance_uid);
    if (!item) throw new AppError('WORKLIST_ITEM_NOT_FOUND', [], input.study_instance_uid);
    if (await this.studies.studyByInstanceUid(item.study_instance_uid))
      throw new AppError('WORKLIST_ITEM_IMPORTED', [], item.accession_number);
    const sex = ['M', 'F', 'O'].includes(item.patient_sex) ? (item.patient_sex as 'M' | 'F' | 'O') : '';
    const neutered = item.sex_neutered === 'ALTERED' || item.sex_neutered === 'UNALTERED' ? item.sex_neutered : '';
    const dob = item.patient_dob ? `${item.patient_dob}T00:00:00Z` : new Date().toISOString();
    const years = item.patient_dob ? Math.max(0, Math.floor((Date.now() - Date.parse(dob)) / (365.25 * 86_400_000))) : 0;
    return this.studies.register(
      {
        accession_number: item.accession_number.slice(0, 16),
        patient_id: item.patient_id,
        patient_name: item.patient_name,
        patient_size: input.patient_size,
        patient_age: `${Math.min(999, years)}Y`,
        patient_dob: dob,
        patient_sex: sex,
        ...(input.patient_type === 'Human' ? {} : { sex_neutered: neutered, owner_name: item.responsible_person, variety: item.breed }),
        ref_physician: item.ref_physician,
        comment: item.requested_procedure_description,
        patient_type: input.patient_type,
        modality: 'DX',
        study_type: 'Normal',
        views: input.views,
        // The schema's literal unions do not survive TypeBox's Static here; the values are checked above.
      } as unknown as CreateStudy,
      user,
      product,
      language,
      {
        studyInstanceUid: item.study_instance_uid,
        mwl: JSON.stringify({
          accession_number: item.accession_number,
          requested_procedure_id: item.requested_procedure_id,
          scheduled_step_id: item.scheduled_step_id,
          species: item.species,
        }),
      },
    );
  }
}
