"""The training worker: claims jobs from the service, trains, uploads artifacts, registers model versions."""
