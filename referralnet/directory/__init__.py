"""The community-resource directory: HSDS 3.0 shaped models, import/export, listing management."""
