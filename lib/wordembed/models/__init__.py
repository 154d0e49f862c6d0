"""Models: YAML specs in ``params/models/``, artefact fetching, and one backend module per kind of encoder."""
