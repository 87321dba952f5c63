"""FHIR R4 (Bulk Data NDJSON, and Bundles or single resources as .json) -> canonical tables.

Every line of an NDJSON file, and every entry of a Bundle, is one record; DuckDB parses them
with its JSON functions, so a line that is not JSON, a resource of an unknown type or a
Bundle inside NDJSON is set aside with its file and line (or entry number), and the rest
loads. Field by field (docs/data-sources.md has the full table):
- Patient -> patients: NHS number from identifier system https://fhir.nhs.uk/Id/nhs-number,
  checked with modulus 11 (failing: set aside) and pseudonymised as careis.data.pseudonym
  does; without one, the resource id is the patient_id. gender (mapping `sex`), birthDate
  (month kept), deceasedDateTime.
- Organization -> practices: ODS code from identifier system
  https://fhir.nhs.uk/Id/ods-organization-code, else a local Y-code.
- Patient.generalPractitioner (an Organization) -> the registration; failing that, the
  serviceProvider of most of the patient's ambulatory (AMB) encounters.
- Encounter: class (mapping `encounter_class`) IMP/ACUTE/NONAC -> admissions, EMER ->
  A&E; the UK Core admission-method extension gives the method (England code system, a
  string: emergency is 21-25, 2A-2D, 28); without it, 21 after an A&E visit else 99.
- Condition, Observation, MedicationRequest/Statement, Procedure, CarePlan, Immunization,
  AllergyIntolerance -> events: the first coding whose system is mapped (`code_system`).
"""

from __future__ import annotations

from pathlib import Path

from careis.data import pseudonym
from careis.data.sources import _io
from careis.data.sources.ingest import (
    IngestOptions,
    IngestRun,
    add_groupings,
    admission_method_rule,
    assign_org_codes,
    materialise,
    new_run,
    registrations_from_contacts,
    require_files,
)
from careis.errors import DataError

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ADMISSION_METHOD_EXTENSION = "Extension-UKCore-AdmissionMethod"  # URL ends with this
# FHIR R4 (4.0.1) resource types (https://hl7.org/fhir/R4/resourcelist.html).
R4_TYPES = frozenset(
    [
        "Account",
        "ActivityDefinition",
        "AdverseEvent",
        "AllergyIntolerance",
        "Appointment",
        "AppointmentResponse",
        "AuditEvent",
        "Basic",
        "Binary",
        "BiologicallyDerivedProduct",
        "BodyStructure",
        "Bundle",
        "CapabilityStatement",
        "CarePlan",
        "CareTeam",
        "CatalogEntry",
        "ChargeItem",
        "ChargeItemDefinition",
        "Claim",
        "ClaimResponse",
        "ClinicalImpression",
        "CodeSystem",
        "Communication",
        "CommunicationRequest",
        "CompartmentDefinition",
        "Composition",
        "ConceptMap",
        "Condition",
        "Consent",
        "Contract",
        "Coverage",
        "CoverageEligibilityRequest",
        "CoverageEligibilityResponse",
        "DetectedIssue",
        "Device",
        "DeviceDefinition",
        "DeviceMetric",
        "DeviceRequest",
        "DeviceUseStatement",
        "DiagnosticReport",
        "DocumentManifest",
        "DocumentReference",
        "EffectEvidenceSynthesis",
        "Encounter",
        "Endpoint",
        "EnrollmentRequest",
        "EnrollmentResponse",
        "EpisodeOfCare",
        "EventDefinition",
        "Evidence",
        "EvidenceVariable",
        "ExampleScenario",
        "ExplanationOfBenefit",
        "FamilyMemberHistory",
        "Flag",
        "Goal",
        "GraphDefinition",
        "Group",
        "GuidanceResponse",
        "HealthcareService",
        "ImagingStudy",
        "Immunization",
        "ImmunizationEvaluation",
        "ImmunizationRecommendation",
        "ImplementationGuide",
        "InsurancePlan",
        "Invoice",
        "Library",
        "Linkage",
        "List",
        "Location",
        "Measure",
        "MeasureReport",
        "Media",
        "Medication",
        "MedicationAdministration",
        "MedicationDispense",
        "MedicationKnowledge",
        "MedicationRequest",
        "MedicationStatement",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "MessageDefinition",
        "MessageHeader",
        "MolecularSequence",
        "NamingSystem",
        "NutritionOrder",
        "Observation",
        "ObservationDefinition",
        "OperationDefinition",
        "OperationOutcome",
        "Organization",
        "OrganizationAffiliation",
        "Parameters",
        "Patient",
        "PaymentNotice",
        "PaymentReconciliation",
        "Person",
        "PlanDefinition",
        "Practitioner",
        "PractitionerRole",
        "Procedure",
        "Provenance",
        "Questionnaire",
        "QuestionnaireResponse",
        "RelatedPerson",
        "RequestGroup",
        "ResearchDefinition",
        "ResearchElementDefinition",
        "ResearchStudy",
        "ResearchSubject",
        "RiskAssessment",
        "RiskEvidenceSynthesis",
        "Schedule",
        "SearchParameter",
        "ServiceRequest",
        "Slot",
        "Specimen",
        "SpecimenDefinition",
        "StructureDefinition",
        "StructureMap",
        "Subscription",
        "Substance",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
        "SupplyDelivery",
        "SupplyRequest",
        "Task",
        "TerminologyCapabilities",
        "TestReport",
        "TestScript",
        "ValueSet",
        "VerificationResult",
        "VisionPrescription",
    ]
)
EVENT_RESOURCES = {  # resource type -> (codeable concept, date elements in order, numeric value)
    "Condition": ("$.code", ("$.onsetDateTime", "$.onsetPeriod.start", "$.recordedDate"), None),
    "Observation": ("$.code", ("$.effectiveDateTime", "$.effectivePeriod.start", "$.issued"),
                    "$.valueQuantity.value"),
    "MedicationRequest": ("$.medicationCodeableConcept", ("$.authoredOn",), None),
    "MedicationStatement": ("$.medicationCodeableConcept",
                            ("$.effectiveDateTime", "$.effectivePeriod.start", "$.dateAsserted"),
                            None),
    "Procedure": ("$.code", ("$.performedDateTime", "$.performedPeriod.start"), None),
    "CarePlan": ("$.category[0]", ("$.period.start", "$.created"), None),
    "Immunization": ("$.vaccineCode", ("$.occurrenceDateTime", "$.recorded"), None),
    "AllergyIntolerance": ("$.code", ("$.onsetDateTime", "$.recordedDate"), None),
}  # fmt: skip
USED = {"Patient", "Organization", "Encounter", *EVENT_RESOURCES}


def _files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and p.name.lower().endswith((".ndjson", ".json")))  # fmt: skip


def _load(run: IngestRun, files: list[Path]) -> None:
    """`raw(_k, _file, _line, text, nd)`: one row per NDJSON line or Bundle entry."""
    run.con.execute("CREATE OR REPLACE TABLE raw (_file VARCHAR, _line BIGINT, text VARCHAR, "
                    "nd BOOLEAN)")  # fmt: skip
    for path in files:
        name = run.display(path).replace("'", "''")
        if path.name.lower().endswith(".ndjson"):
            _io.read_lines(run.con, path, "lines")
            run.con.execute(f"INSERT INTO raw SELECT '{name}', _line, text, true FROM lines "
                            "WHERE trim(coalesce(text, '')) <> ''")  # fmt: skip
            continue
        _load_json(run, path, name)
    run.con.execute("CREATE OR REPLACE TABLE res AS SELECT row_number() OVER () AS _k, *, "
                    "json_valid(text) AS ok FROM raw")  # fmt: skip
    run.con.execute(
        """CREATE OR REPLACE TABLE res AS SELECT *,
             CASE WHEN ok THEN text->>'$.resourceType' END AS rtype,
             CASE WHEN ok THEN text->>'$.id' END AS rid,
             CASE WHEN ok THEN text::JSON END AS j FROM res"""
    )


def _load_json(run: IngestRun, path: Path, name: str) -> None:
    """A .json file: a Bundle (one record per entry) or a single resource."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _io._not_utf8(path) from None
    run.con.execute("CREATE OR REPLACE TEMP TABLE doc AS SELECT ?::VARCHAR AS text", [text])
    run.con.execute(
        f"""INSERT INTO raw
        SELECT '{name}', 1, text, false FROM doc
          WHERE NOT json_valid(text) OR text->>'$.resourceType' IS DISTINCT FROM 'Bundle'
        UNION ALL
        SELECT '{name}', generate_subscripts(e, 1), unnest(e)::VARCHAR, false
          FROM (SELECT json_extract(text, '$.entry[*].resource') AS e FROM doc
                WHERE json_valid(text) AND text->>'$.resourceType' = 'Bundle')"""
    )


def _triage(run: IngestRun) -> None:
    """`ledger(_k, _file, rtype, _line, _id, _reason, _detail)`: what can't be a resource."""
    known = ", ".join(f"'{t}'" for t in sorted(R4_TYPES))
    run.con.execute(
        f"""CREATE OR REPLACE TABLE ledger AS SELECT _k, _file,
             CASE WHEN NOT ok THEN '(not JSON)' ELSE coalesce(rtype, '(no resourceType)') END
               AS rtype, _line, rid AS _id,
             CASE WHEN NOT ok THEN 'not valid JSON'
                  WHEN rtype IS NULL THEN 'not a FHIR resource (no resourceType)'
                  WHEN rtype = 'Bundle' AND nd THEN 'a Bundle inside NDJSON'
                  WHEN rtype NOT IN ({known}) THEN 'unknown FHIR R4 resource type'
                  WHEN rtype NOT IN ({", ".join(f"'{t}'" for t in sorted(USED))})
                    THEN 'resource type not used by careis' END AS _reason,
             CASE WHEN NOT ok THEN left(text, 60) END AS _detail
           FROM res"""
    )


def _settle(run: IngestRun, rtype: str, relation: str) -> None:
    """Write the per-record reasons of `relation(_k, _reason, _detail)` into the ledger."""
    run.con.execute(
        f"""UPDATE ledger SET _reason = r._reason, _detail = r._detail FROM ({relation}) r
            WHERE ledger._k = r._k AND ledger.rtype = '{rtype}' AND ledger._reason IS NULL"""
    )


def _mod11_sql(digits: str) -> str:
    """SQL: true when 10 `digits` pass the NHS number modulus 11 check (weights 10..2)."""
    total = " + ".join(f"(10 - {i}) * CAST(substr({digits}, {i + 1}, 1) AS INT)"
                       for i in range(9))  # fmt: skip
    return (f"(regexp_full_match({digits}, '[0-9]{{10}}') AND (11 - ({total}) % 11) % 11 "
            f"= CAST(substr({digits}, 10, 1) AS INT))")  # fmt: skip


def _organisations(run: IngestRun) -> None:
    run.con.execute(
        f"""CREATE OR REPLACE TABLE org AS
        SELECT _k, rid AS org_key, j->>'$.name' AS name,
               list_filter(json_extract(j, '$.identifier[*]')::JSON[],
                           lambda x: x->>'system' = '{ODS_SYSTEM}')[1]->>'value' AS ods,
               json_extract(j, '$.identifier[*]')::JSON[] AS ids
        FROM res WHERE rtype = 'Organization' AND ok"""
    )
    run.con.execute(
        """CREATE OR REPLACE TABLE org_alias AS
        SELECT 'Organization/' || org_key AS alias, org_key FROM org
        UNION SELECT 'urn:uuid:' || org_key, org_key FROM org
        UNION SELECT 'Organization?identifier=' || (x->>'system') || '|' || (x->>'value'),
                     org_key FROM (SELECT org_key, unnest(ids) AS x FROM org)
        UNION SELECT 'ods:' || ods, org_key FROM org WHERE ods IS NOT NULL"""
    )
    _settle(run, "Organization", "SELECT _k, CASE WHEN org_key IS NULL THEN 'Organization "
            "has no id' END AS _reason, NULL AS _detail FROM org")  # fmt: skip
    assign_org_codes(run, "SELECT org_key, ods, name FROM org WHERE org_key IS NOT NULL")


def _org_ref(element: str) -> str:
    """SQL: the org_key a Reference element points at (by reference or ODS identifier)."""
    return f"""(SELECT a.org_key FROM org_alias a WHERE a.alias = coalesce({element}->>'reference',
               'ods:' || ({element}->>'$.identifier.value')))"""


def _patients(run: IngestRun, key: str | None) -> None:
    digits = "regexp_replace(nhs, '[ -]', '', 'g')"
    run.con.execute(
        f"""CREATE OR REPLACE TABLE pat AS
        SELECT _k, rid, list_filter(json_extract(j, '$.identifier[*]')::JSON[],
                       lambda x: x->>'system' = '{NHS_NUMBER_SYSTEM}')[1]->>'value' AS nhs,
               j->>'gender' AS gender, j->>'birthDate' AS birth, j->>'deceasedDateTime' AS died,
               j->>'deceasedBoolean' AS died_flag,
               {_org_ref("(j->'$.generalPractitioner[0]')")} AS gp
        FROM res WHERE rtype = 'Patient' AND ok"""
    )
    nhs = run.con.execute("SELECT count(nhs) FROM pat").fetchone()
    if nhs and nhs[0]:
        key = pseudonym.require_key(key, [run.display(run.source)])
    hashed = f"substr(sha256('{(key or '').replace(chr(39), chr(39) * 2)}:' || {digits}), 1, 16)"
    run.con.execute(
        f"""CREATE OR REPLACE TABLE pat AS SELECT *,
               CASE WHEN nhs IS NULL THEN rid ELSE {hashed} END AS patient_id,
               CASE WHEN rid IS NULL THEN 'Patient has no id'
                    WHEN nhs IS NOT NULL AND NOT {_mod11_sql(digits)}
                      THEN 'NHS number fails the modulus 11 check'
                    WHEN TRY_CAST(left(birth || '-01-01', 10) AS DATE) IS NULL
                      THEN 'birthDate missing or not a date'
                    WHEN count(*) OVER (PARTITION BY rid) > 1 THEN 'Patient id appears twice'
               END AS _reason,
               CASE WHEN nhs IS NOT NULL THEN left({digits}, 3) || '*******' END AS _detail
        FROM pat"""
    )
    _settle(run, "Patient", "SELECT _k, _reason, _detail FROM pat")
    run.emit(
        "patients",
        f"""SELECT patient_id, coalesce(s.target, 'U') AS sex,
                   date_trunc('month', TRY_CAST(left(birth || '-01-01', 10) AS DATE)) AS birth_month,
                   TRY_CAST(left(died, 10) AS DATE) AS death_date, NULL AS imd_decile
            FROM pat LEFT JOIN {run.mappings.sql("sex")} s ON s.source_value = pat.gender
            WHERE _reason IS NULL""",
    )
    materialise(run, "patients")
    flags = run.con.execute("SELECT count(*) FILTER (died_flag = 'true' AND died IS NULL), "
                            "count(*) FILTER (died IS NOT NULL) FROM pat").fetchone()  # fmt: skip
    if flags:
        run.note(f"Patients deceased with a date: {flags[1]}; deceasedBoolean true without a "
                 f"date (kept without a death date): {flags[0]}.")  # fmt: skip
    run.con.execute(
        """CREATE OR REPLACE TABLE subj AS
        SELECT 'Patient/' || rid AS ref, patient_id FROM pat WHERE _reason IS NULL
        UNION SELECT 'urn:uuid:' || rid, patient_id FROM pat WHERE _reason IS NULL
        UNION SELECT 'Patient?identifier=' || '"""
        + NHS_NUMBER_SYSTEM
        + """|' || nhs, patient_id
          FROM pat WHERE _reason IS NULL AND nhs IS NOT NULL"""
    )


def _subject_reason(alias: str = "s") -> str:
    return f"""WHEN {alias}.patient_id IS NULL THEN 'subject is not a Patient in this load'"""


def _encounters(run: IngestRun) -> None:
    ext = f"lambda x: contains(x->>'url', '{ADMISSION_METHOD_EXTENSION}')"
    run.con.execute(
        f"""CREATE OR REPLACE TABLE enc AS
        SELECT r._k, r.rid, s.patient_id, r.j->>'$.class.code' AS cls, m.target AS kind,
               TRY_CAST(left(r.j->>'$.period.start', 10) AS DATE) AS start_date,
               TRY_CAST(left(r.j->>'$.period.end', 10) AS DATE) AS end_date,
               coalesce(list_filter(json_extract(r.j, '$.extension[*]')::JSON[], {ext})[1],
                        list_filter(json_extract(r.j, '$.hospitalization.extension[*]')::JSON[],
                                    {ext})[1])->>'$.valueCodeableConcept.coding[0].code' AS method,
               {_org_ref("(r.j->'$.serviceProvider')")} AS org_key,
               list_filter(json_extract(r.j, '$.reasonCode[*].coding[*]')::JSON[],
                           lambda x: contains(x->>'system', 'icd-10'))[1]->>'code' AS icd10
        FROM res r LEFT JOIN subj s ON s.ref = r.j->>'$.subject.reference'
        LEFT JOIN {run.mappings.sql("encounter_class")} m ON m.source_value = r.j->>'$.class.code'
        WHERE r.rtype = 'Encounter' AND r.ok"""
    )
    _settle(
        run,
        "Encounter",
        f"""SELECT _k, CASE {_subject_reason("enc")}
                 WHEN start_date IS NULL THEN 'period.start missing or not a date'
                 WHEN kind IS NULL THEN 'class not mapped to an admission or A&E attendance'
                 WHEN kind = 'primary_care'
                   THEN 'ambulatory encounter: no canonical table (used for practice attribution)'
               END AS _reason, CASE WHEN kind IS NULL THEN cls END AS _detail FROM enc""",
    )
    ok = "SELECT e.* FROM enc e JOIN ledger l USING (_k) WHERE l._reason IS NULL"
    provider = "coalesce(o.org_code, 'UNKNOWN')"
    dept = run.mappings.value("department_type", "default") or "1"
    run.emit("ae_attendances",
             f"SELECT e.rid AS attendance_id, e.patient_id, e.start_date AS arrival_date, "
             f"'{dept}' AS department_type, {provider} AS provider_code FROM ({ok}) e "
             "LEFT JOIN orgcode o USING (org_key) WHERE e.kind = 'ae'")  # fmt: skip
    candidates = (f"SELECT rid AS _key, patient_id, start_date AS admission_date, method "
                  f"FROM ({ok}) WHERE kind = 'admission'")  # fmt: skip
    ae = f"SELECT patient_id, start_date AS arrival_date FROM ({ok}) WHERE kind = 'ae'"
    r69 = run.mappings.value("primary_diagnosis", "default") or "R69"
    run.emit(
        "admissions",
        f"""SELECT e.rid AS spell_id, e.patient_id, e.start_date AS admission_date,
                   e.end_date AS discharge_date, am.admission_method,
                   coalesce(e.icd10, '{r69}') AS primary_diagnosis, {provider} AS provider_code
            FROM ({ok}) e JOIN ({admission_method_rule(run, candidates, ae)}) am ON am._key = e.rid
            LEFT JOIN orgcode o USING (org_key) WHERE e.kind = 'admission'""",
    )


def _events(run: IngestRun) -> None:
    system = run.mappings.sql("code_system")
    for rtype, (concept, dates, value) in EVENT_RESOURCES.items():
        day = ", ".join(f"TRY_CAST(left(r.j->>'{d}', 10) AS DATE)" for d in dates)
        val = f"TRY_CAST(r.j->>'{value}' AS DOUBLE)" if value else "NULL::DOUBLE"
        run.con.execute(
            f"""CREATE OR REPLACE TABLE ev AS
            WITH c AS (SELECT _k, unnest(json_extract(j, '{concept}.coding[*]')::JSON[]) AS cd,
                              generate_subscripts(json_extract(j, '{concept}.coding[*]')::JSON[], 1) AS i
                       FROM res WHERE rtype = '{rtype}' AND ok),
                 best AS (SELECT c._k, arg_min((m.target, c.cd->>'code'), c.i) FILTER (m.target IS NOT NULL) AS sc,
                                 any_value(c.cd->>'system') AS some_system
                          FROM c LEFT JOIN {system} m ON m.source_value = c.cd->>'system'
                          GROUP BY c._k),
                 mapped AS (SELECT _k, sc[1] AS code_system, sc[2] AS code, some_system FROM best)
            SELECT r._k, s.patient_id, coalesce({day}) AS event_date, m.code_system, m.code,
                   {val} AS value, m.some_system
            FROM res r LEFT JOIN subj s ON s.ref = coalesce(r.j->>'$.subject.reference',
                                                            r.j->>'$.patient.reference')
            LEFT JOIN mapped m USING (_k) WHERE r.rtype = '{rtype}' AND r.ok"""
        )
        _settle(
            run,
            rtype,
            f"""SELECT _k, CASE {_subject_reason("ev")}
                   WHEN event_date IS NULL THEN 'no date ({", ".join(d[2:] for d in dates)})'
                   WHEN code IS NULL AND some_system IS NULL THEN 'no coding'
                   WHEN code IS NULL THEN 'no coding in a code system careis maps'
                 END AS _reason, CASE WHEN code IS NULL THEN some_system END AS _detail FROM ev""",
        )
        run.con.execute(f"CREATE OR REPLACE TABLE ev_{rtype} AS SELECT e.* FROM ev e "
                        "JOIN ledger l USING (_k) WHERE l._reason IS NULL")  # fmt: skip
        run.emit("events", f"SELECT * FROM ev_{rtype}")


def _registrations(run: IngestRun) -> None:
    contacts = ("SELECT patient_id, org_key, start_date AS day FROM enc "
                "WHERE kind = 'primary_care' AND patient_id IS NOT NULL")  # fmt: skip
    preferred = "SELECT patient_id, gp AS org_key FROM pat WHERE _reason IS NULL"
    registrations_from_contacts(
        run, contacts, "the serviceProvider of their ambulatory (AMB) encounters", preferred
    )


def _account(run: IngestRun) -> None:
    groups = run.con.execute(
        "SELECT DISTINCT _file, rtype FROM ledger ORDER BY 1, 2").fetchall()  # fmt: skip
    for i, (file, rtype) in enumerate(groups):
        view = f"ledger_{i}"
        quoted = [v.replace("'", "''") for v in (file, rtype)]
        run.con.execute(
            f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM ledger "
            f"WHERE _file = '{quoted[0]}' AND rtype = '{quoted[1]}'"
        )
        run.account(file, rtype, view)


def ingest(folder: Path, options: IngestOptions | None = None) -> IngestRun:
    """Read a FHIR R4 Bulk Data export (NDJSON) or Bundles (.json) into canonical tables."""
    opts = options or IngestOptions()
    run = new_run("fhir", folder, opts)
    files = _files(folder)
    require_files(folder, files, "FHIR files (*.ndjson Bulk Data or *.json Bundles)")
    xml = sorted(p.name for p in folder.rglob("*.xml")) if folder.is_dir() else []
    if xml:
        run.note(f"XML files are not read (JSON only): {', '.join(xml[:5])}"
                 f"{' ...' if len(xml) > 5 else ''}.")  # fmt: skip
    _load(run, files)
    if not run.con.execute("SELECT count(*) FROM res").fetchone()[0]:  # type: ignore[index]
        raise DataError("the FHIR files hold no resources (every line is blank).",
                        file=folder, fix="give the export's NDJSON files.")  # fmt: skip
    _triage(run)
    _organisations(run)
    key = opts.pseudonym_key.get_secret_value() if opts.pseudonym_key else None
    _patients(run, pseudonym.resolve_key(key))
    _encounters(run)
    _events(run)
    _registrations(run)
    add_groupings(run)
    _account(run)
    lacks = run.con.execute(
        "SELECT count(*) FILTER (nhs IS NULL), count(*) FILTER (gp IS NULL) FROM pat"
    ).fetchone()
    if lacks:
        run.note(f"What the data lack: {lacks[0]} Patients without an NHS number (US Core or "
                 f"test data: the resource id is used as patient_id); {lacks[1]} without "
                 "generalPractitioner.")  # fmt: skip
    return run
