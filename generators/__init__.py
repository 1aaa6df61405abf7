"""ToolForge's pure generation library: registry, values, templates, behaviours, verification, export.

`GENERATOR_VERSION` is part of every dataset version's address: bump it whenever a change alters the
bytes generated for the same spec and seed.
"""

GENERATOR_VERSION = "0.3.5"  # 0.3.5: splices: "once a day", no doubled words, currency said once, quoted notes
# 0.3.4: reminder texts are the bare task; "1 person" not "1 people"
# 0.3.2: more date/time forms and refusal acts, frames drawn for variety
# 0.3.1: the card's YAML header (load_dataset(folder)), "prompt_length" in stats.json
# 0.3.0: frames and slot phrases, leak check, the date in the system message, "realism"
