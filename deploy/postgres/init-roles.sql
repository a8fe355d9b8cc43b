-- Roles of the trade journal (bot/journal/README.md, "Append-only"), created once when the
-- PostgreSQL volume is initialised (docker-entrypoint-initdb.d runs this as POSTGRES_USER, the
-- owner of the journal):
--   derivbot_writer  what the bot connects as: SELECT and INSERT, never UPDATE/DELETE/TRUNCATE/DDL
--   derivbot_reader  what `derivbot journal serve` connects as: SELECT only
-- The tables do not exist yet (the `migrate` service creates them as the owner), so the grants
-- are default privileges of the owner; `derivbot journal migrate` grants them again after every
-- upgrade and creates the roles on a database initialised before this script existed.
-- Passwords come from the environment of the postgres service (psql's \getenv, psql 15+).
\set ON_ERROR_STOP on
\getenv writer_password JOURNAL_WRITER_PASSWORD
\getenv reader_password JOURNAL_READER_PASSWORD

CREATE ROLE derivbot_writer LOGIN PASSWORD :'writer_password';
CREATE ROLE derivbot_reader LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"DBNAME" TO derivbot_writer, derivbot_reader;
GRANT USAGE ON SCHEMA public TO derivbot_writer, derivbot_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO derivbot_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO derivbot_reader;
