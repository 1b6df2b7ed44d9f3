from django.contrib.staticfiles.storage import ManifestStaticFilesStorage


class HashedStaticFilesStorage(ManifestStaticFilesStorage):
    """Hashed names for long caching, including the targets of ES module imports."""

    support_js_module_import_aggregation = True
