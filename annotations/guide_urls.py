"""Routes of the guide API, included under api/projects/<project_id>/guide/."""
from django.urls import path

from . import api_guide

urlpatterns = [
    path("", api_guide.ProjectGuide.as_view(), name="api-guide"),
    path("revisions/", api_guide.GuideRevisions.as_view(), name="api-guide-revisions"),
    path("revisions/<int:version>/", api_guide.GuideRevisionDetail.as_view(), name="api-guide-revision"),
    path("revisions/<int:version>/restore/", api_guide.RestoreGuideRevision.as_view(), name="api-guide-restore"),
    path("proposals/", api_guide.GuideProposals.as_view(), name="api-guide-proposals"),
    path("proposals/<int:proposal_id>/", api_guide.GuideProposalDetail.as_view(), name="api-guide-proposal"),
    path("proposals/<int:proposal_id>/accept/", api_guide.AcceptGuideProposal.as_view(), name="api-guide-accept"),
    path("proposals/<int:proposal_id>/decline/", api_guide.DeclineGuideProposal.as_view(), name="api-guide-decline"),
    path("images/", api_guide.GuideImages.as_view(), name="api-guide-images"),
    path("images/<int:image_id>/", api_guide.GuideImageFile.as_view(), name="api-guide-image"),
]
