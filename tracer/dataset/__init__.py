"""Problems as a data set: dedup (exact and MinHash), decontamination against public
benchmarks, and the export formats."""
