-- One database per service; the tables come from `tsunagu db upgrade <service>` (Alembic).
CREATE DATABASE referral OWNER tsunagu;
CREATE DATABASE casefile OWNER tsunagu;
CREATE DATABASE meeting OWNER tsunagu;
CREATE DATABASE stats OWNER tsunagu;
CREATE DATABASE notifier OWNER tsunagu;
