-- Raw HL7 v2 messages and C-CDA documents carry PHI (names, SSNs in PID-19, results): their bodies are now stored
-- encrypted with the data key (AES-256-GCM, key id inside the value). Rows written before stay readable as they were.
alter table ingest_messages add column raw_sealed boolean not null default false;
