"""`seoib matrix` and `seoib designs`: class-space matrices, design comparison, artifacts."""
