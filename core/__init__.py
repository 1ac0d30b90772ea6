"""Shared pieces every Hamsu part uses: settings, the error catalogue, the transcript shape."""
