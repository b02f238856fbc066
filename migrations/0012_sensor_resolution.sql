-- 0012: the decimal places a sensor's numbers are shown at (SPEC §5): NULL means the default of
-- its unit (3 for m³, kWh, MWh, GJ; 2 for °C; 1 for %; 0 for ppm).
ALTER TABLE sensors ADD COLUMN resolution smallint CHECK (resolution BETWEEN 0 AND 6);
