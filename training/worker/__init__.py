"""The training worker: claims jobs from the service, trains, uploads artifacts, registers model versions.

``loop`` (options, stop signal, the claim/event loop), ``job`` (one claimed job), ``heartbeat`` (lease
renewals and the trainer callback), ``artifacts`` (folders to and from the artifact root).
"""
