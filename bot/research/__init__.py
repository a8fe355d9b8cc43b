"""Signal research: replay history through the strategies and measure what their entries
were worth (``derivbot research signals``)."""
