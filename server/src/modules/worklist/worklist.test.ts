import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writePart10 } from '../../dicom/part10.js';
import { splitPart10 } from '../../dimse/dataset.js';
import { identifierFor, itemOf, MWL_FIND } from './worklist.js';

test('a veterinary match yields species, breed, responsible person and neutered status; the identifier asks for them', () => {
  const match = writePart10(
    {
      AccessionNumber: 'A1',
      PatientName: 'Rex',
      PatientID: 'P1',
      PatientBirthDate: '20180704',
      PatientSex: 'M',
      PatientSpeciesDescription: 'Canine',
      PatientBreedDescription: 'Beagle',
      ResponsiblePerson: 'Owner^Olga',
      PatientSexNeutered: 'ALTERED',
      StudyInstanceUID: '1.2.3',
      ScheduledProcedureStepSequence: [
        {
          Modality: 'DX',
          ScheduledProcedureStepStartDate: '20261123',
          ScheduledProcedureStepStartTime: '0930',
          ScheduledProcedureStepID: 'S1',
        },
      ],
    },
    { sopClassUid: MWL_FIND, sopInstanceUid: '2.25.1' },
  );
  const item = itemOf(splitPart10(match).dataset, '1.2.840.10008.1.2.1');
  assert.deepEqual(
    [
      item.species,
      item.breed,
      item.responsible_person,
      item.sex_neutered,
      item.patient_dob,
      item.scheduled_datetime,
      item.scheduled_step_id,
    ],
    ['Canine', 'Beagle', 'Owner^Olga', 'ALTERED', '2018-07-04', '2026-11-23T09:30:00', 'S1'],
  );

  const query = itemOf(
    identifierFor({ accession_number: 'A1', date_from: '2026-11-23', date_to: '2026-11-24', modality: 'DX' }),
    '1.2.840.10008.1.2.1',
  );
  assert.equal(query.accession_number, 'A1');
  assert.equal(query.modality, 'DX');
  const raw = identifierFor({}).toString('latin1');
  for (const tag of ['\x10\x00\x01\x22', '\x10\x00\x92\x22', '\x10\x00\x97\x22']) assert.ok(raw.includes(tag), 'asks for the vet keys');
});

test('the identifier declares and asks for (0008,0005); a name in Chinese is matched by us, not sent as a key in our bytes', async () => {
  const { readDataSet, text } = await import('../../dicom/reader.js');
  const { TAGS } = await import('../../dicom/tags.js');
  const { EXPLICIT_LE } = await import('../../dimse/scu.js');
  const ascii = readDataSet(identifierFor({ patient_name: 'Li' }), { transferSyntax: EXPLICIT_LE });
  assert.equal(text(ascii, TAGS.specificCharacterSet), 'ISO_IR 192');
  assert.equal(text(ascii, TAGS.patientName), '*Li*');
  const chinese = readDataSet(identifierFor({ patient_name: '李雷' }), { transferSyntax: EXPLICIT_LE });
  assert.equal(text(chinese, TAGS.patientName), '', 'a RIS keeping GB18030 compares its bytes, not our UTF-8');
});

test('for a RIS configured for GB18030 the identifier is in GB18030 and declares it', async () => {
  const { readDataSet, text } = await import('../../dicom/reader.js');
  const { TAGS } = await import('../../dicom/tags.js');
  const { EXPLICIT_LE } = await import('../../dimse/scu.js');
  const gb = readDataSet(identifierFor({ patient_id: 'P1' }, 'GB18030'), { transferSyntax: EXPLICIT_LE });
  assert.equal(text(gb, TAGS.specificCharacterSet), 'GB18030');
  assert.equal(text(gb, TAGS.patientId), 'P1');
});
