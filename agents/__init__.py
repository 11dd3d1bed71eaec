"""The papers' methods: one subpackage per method family, plus ``common`` (communication, graphs) and
``experiments`` (one reproduction per paper figure or table)."""
