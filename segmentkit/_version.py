"""Version of the segmentkit distribution and of the adapter API it offers."""

__version__ = "0.1.0"

#: The adapter contract version. Adapters declare the version they target in
#: ``Provider.api_version``; a different major version is reported, not loaded.
CORE_API_VERSION = "1.0"
