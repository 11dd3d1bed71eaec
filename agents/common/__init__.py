"""Pieces shared by the methods: communication between agents, servers and processor nodes; graphs."""
