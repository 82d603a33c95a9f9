import assert from 'node:assert/strict';
import { test } from 'node:test';
import dcmjs from 'dcmjs';
import { splitPart10 } from '../../dimse/dataset.js';
import { identifierFor, itemOf, MWL_FIND } from './worklist.js';

test('a veterinary match yields species, breed, responsible person and neutered status; the identifier asks for them', () => {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer, MediaStorageSOPClassUID: MWL_FIND, MediaStorageSOPInstanceUID: '2.25.1', TransferSyntaxUID: '1.2.840.10008.1.2.1',
  }));
  dict.dict = DicomMetaDictionary.denaturalizeDataset({
    AccessionNumber: 'A1', PatientName: 'Rex', PatientID: 'P1', PatientBirthDate: '20180704', PatientSex: 'M',
    PatientSpeciesDescription: 'Canine', PatientBreedDescription: 'Beagle', ResponsiblePerson: 'Owner^Olga', PatientSexNeutered: 'ALTERED',
    StudyInstanceUID: '1.2.3', ScheduledProcedureStepSequence: [{ Modality: 'DX', ScheduledProcedureStepStartDate: '20261123', ScheduledProcedureStepStartTime: '0930', ScheduledProcedureStepID: 'S1' }],
  });
  const item = itemOf(splitPart10(Buffer.from(dict.write())).dataset, '1.2.840.10008.1.2.1');
  assert.deepEqual([item.species, item.breed, item.responsible_person, item.sex_neutered, item.patient_dob, item.scheduled_datetime, item.scheduled_step_id],
    ['Canine', 'Beagle', 'Owner^Olga', 'ALTERED', '2018-07-04', '2026-11-23T09:30:00', 'S1']);

  const query = itemOf(identifierFor({ accession_number: 'A1', date_from: '2026-11-23', date_to: '2026-11-24', modality: 'DX' }), '1.2.840.10008.1.2.1');
  assert.equal(query.accession_number, 'A1');
  assert.equal(query.modality, 'DX');
  const raw = identifierFor({}).toString('latin1');
  for (const tag of ['\x10\x00\x01\x22', '\x10\x00\x92\x22', '\x10\x00\x97\x22']) assert.ok(raw.includes(tag), 'asks for the vet keys');
});
