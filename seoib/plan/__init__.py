"""Fleet rollout plans: parsing, class compression, wave simulation, planning, reports."""
