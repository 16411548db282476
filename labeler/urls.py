from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from activelearning import api as al_api
from annotations import api, api_media, api_ontology, api_review

project = "api/projects/<int:project_id>/"

api_patterns = [
    path("api/projects/", api.ProjectList.as_view(), name="api-projects"),
    path(project, api.ProjectDetail.as_view(), name="api-project"),
    path(project + "classes/", api.ClassList.as_view(), name="api-classes"),
    path(project + "classes/<int:class_id>/", api.ClassDetail.as_view(), name="api-class"),
    path(project + "members/", api.MemberList.as_view(), name="api-members"),
    path(project + "members/<int:member_id>/", api.MemberDetail.as_view(), name="api-member"),
    path(project + "items/", api.ItemList.as_view(), name="api-items"),
    path(project + "items/<int:item_id>/", api.ItemDetail.as_view(), name="api-item"),
    path(project + "import/", api.ImportItems.as_view(), name="api-import"),
    path(project + "images/", api_media.ImportImages.as_view(), name="api-images"),
    path(project + "labels/import/", api_media.ImportLabels.as_view(), name="api-import-labels"),
    path(project + "weights/", api_media.UploadWeights.as_view(), name="api-weights"),
    path(project + "videos/", api_media.ImportVideo.as_view(), name="api-videos"),
    path(project + "videos/<int:video_id>/frames/", api_media.VideoFrames.as_view(), name="api-video-frames"),
    path(project + "items/<int:item_id>/media/", api_media.ItemMedia.as_view(), name="api-item-media"),
    path(project + "export/", api.ExportLabels.as_view(), name="api-export"),
    path(project + "tasks/claim/", api.ClaimTasks.as_view(), name="api-claim"),
    path(project + "tasks/<int:assignment_id>/skip/", api.SkipTask.as_view(), name="api-skip"),
    path(project + "annotations/", api.AnnotationList.as_view(), name="api-annotations"),
    path(project + "annotations/undo/", api.UndoLastAnnotation.as_view(), name="api-undo"),
    path(project + "progress/", api.Progress.as_view(), name="api-progress"),
    path(project + "rounds/", al_api.RoundList.as_view(), name="api-rounds"),
    path(project + "jobs/", al_api.JobList.as_view(), name="api-jobs"),
    path(project + "simulations/", al_api.SimulationList.as_view(), name="api-simulations"),
    path(project + "simulations/<int:simulation_id>/", al_api.SimulationDetail.as_view(), name="api-simulation"),
    path(project + "review/queue/", api_review.ReviewQueue.as_view(), name="api-review-queue"),
    path(project + "review/items/<int:item_id>/", api_review.ReviewItem.as_view(), name="api-review-item"),
    path(project + "annotations/<int:annotation_id>/approve/", api_review.ApproveAnswer.as_view(), name="api-approve"),
    path(project + "annotations/<int:annotation_id>/reject/", api_review.RejectAnswer.as_view(), name="api-reject"),
    path(project + "annotations/<int:annotation_id>/correct/", api_review.CorrectAnswer.as_view(), name="api-correct"),
    path(project + "items/<int:item_id>/decide/", api_review.DecideItem.as_view(), name="api-decide"),
    path(project + "items/<int:item_id>/history/", api_review.ItemHistory.as_view(), name="api-item-history"),
    path(project + "items/<int:item_id>/comments/", api_review.ItemComments.as_view(), name="api-item-comments"),
    path(project + "comments/<int:comment_id>/resolve/", api_review.ResolveComment.as_view(), name="api-resolve"),
    path(project + "questions/", api_review.OpenQuestions.as_view(), name="api-questions"),
    path(project + "agreement/", api_review.Agreement.as_view(), name="api-agreement"),
    path(project + "quality/", api_review.AnnotatorQuality.as_view(), name="api-quality"),
    path(project + "gold/", api_review.GoldList.as_view(), name="api-gold"),
    path(project + "items/<int:item_id>/gold/", api_review.GoldItem.as_view(), name="api-item-gold"),
    path(project + "members/<int:member_id>/qualification/reset/", api_review.ResetQualification.as_view(),
         name="api-qualification-reset"),
    path(project + "disagreements/", al_api.DisagreementList.as_view(), name="api-disagreements"),
    path(project + "disagreements/<int:disagreement_id>/settle/", al_api.SettleDisagreement.as_view(),
         name="api-settle-disagreement"),
    path(project + "ontology/", api_ontology.ProjectOntology.as_view(), name="api-ontology"),
    path(project + "ontology/changes/", api_ontology.OntologyChanges.as_view(), name="api-ontology-changes"),
    path(project + "ontology/merge/", api_ontology.MergeClasses.as_view(), name="api-ontology-merge"),
    path(project + "ontology/reorder/", api_ontology.ReorderClasses.as_view(), name="api-ontology-reorder"),
    path(project + "ontology/export/", api_ontology.ExportOntology.as_view(), name="api-ontology-export"),
    path(project + "ontology/import/", api_ontology.ImportOntology.as_view(), name="api-ontology-import"),
    path(project + "ontology/fork/", api_ontology.ForkOntology.as_view(), name="api-ontology-fork"),
    path("api/ontologies/", api_ontology.OntologyList.as_view(), name="api-ontologies"),
    path("api/strategies/", al_api.StrategyList.as_view(), name="api-strategies"),
    path("api/learners/", al_api.LearnerList.as_view(), name="api-learners"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    *api_patterns,
    path("django-admin/", admin.site.urls),
    path("", include("frontend.urls")),
]
