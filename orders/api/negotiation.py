"""Choosing a renderer: `?format=` picks one the view has, and is otherwise
ignored, as any query parameter a view does not read is. DRF's own answers a
format the view lacks with a bare 404, as if the path were wrong."""

from rest_framework.negotiation import DefaultContentNegotiation


class KnownFormatsOnly(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        return [renderer for renderer in renderers if renderer.format == format] or renderers
