// Shared by the MPI tests that go through the real server: JSON calls with a token, demographic Patients, and
// which person the MPI filed a record under.
import { expect } from 'vitest';
import type { Address, Patient } from '@medplum/fhirtypes';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import type { TestServer } from '../support/test-server.ts';

export const SSN_SYSTEM = 'http://hl7.org/fhir/sid/us-ssn';

export interface Demo { mrn: string; given: string; family: string; birthDate: string; ssn?: string; gender?: 'male' | 'female' }

/** A source Patient of `mrnSystem` with these demographics (an SSN when given). */
export function demoPatient(mrnSystem: string, d: Demo, address: Address): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: mrnSystem, value: d.mrn }, ...(d.ssn ? [{ system: SSN_SYSTEM, value: d.ssn }] : [])],
    name: [{ use: 'official', family: d.family, given: [d.given] }],
    gender: d.gender ?? 'female',
    birthDate: d.birthDate,
    address: [address],
  };
}

/** `call(token, method, url, body)` against the server `current()` returns (it starts in a `beforeAll`). */
export function jsonCaller(current: () => TestServer) {
  return async (token: string, method: string, url: string, body?: unknown) => {
    const res = await current().app.inject({
      method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, body: res.body ? res.json() : undefined };
  };
}

/** The person the MPI links a source Patient to. */
export async function personOfPatient(server: TestServer, patientId: string): Promise<string | undefined> {
  return (await run<{ person_id: string }>(server.services.db, sql`select person_id from mpi_links where patient_id = ${patientId}`))[0]?.person_id;
}

/** Creates and updates source Patients through the API as the system client whose token `token()` returns. */
export function patientWriter(call: ReturnType<typeof jsonCaller>, token: () => string, patient: (d: Demo) => Patient) {
  return {
    create: async (d: Demo): Promise<string> => {
      const res = await call(token(), 'POST', '/fhir/Patient', patient(d));
      expect(res.status).toBe(201);
      return res.body.id as string;
    },
    update: async (id: string, d: Demo): Promise<void> => {
      expect((await call(token(), 'PUT', `/fhir/Patient/${id}`, { ...patient(d), id })).status).toBe(200);
    },
  };
}
