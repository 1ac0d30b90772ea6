"""Public JSON shapes (v1), one pydantic model per shape, one module per area. Fields may be
added; none is renamed. These models are the only way a conversation, an insight or a queue item
becomes JSON (`api.views` builds them for the API, the CLI and the review desk)."""
